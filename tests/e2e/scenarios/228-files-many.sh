# labels: slow
# 10,000 screenshot-style rows, each naming its own small file, pushed in
# batches of 200; 50 of the files are deleted before the push. Those 50
# rows are dead letters that say which file is missing (`ferry dead
# list`), and they block nothing: the 9,950 others arrive, each with the
# SHA-256 of its own file (all compared), and a sample of the stored blobs
# read back byte for byte.
files_setup a pc-1 200
mkdir -p "$T/shots"
python3 - "$T/shots" <<'PY' || fail "make files"
import os, random, sys
r = random.Random(228)
for i in range(1, 10001):
    with open(os.path.join(sys.argv[1], "%d.png" % i), "wb") as f:
        f.write(r.randbytes(r.randint(200, 4000)))
PY
app_sql "$APP" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n
  WHERE i < 10000) INSERT INTO screenshots SELECT i, 'taken ' || i,
  '$T/shots/' || i || '.png' FROM n"
i=200
while [ $i -le 10000 ]; do
    rm "$T/shots/$i.png"
    i=$((i + 200))
done
started=$(date +%s)
rc=0
ferry_in a push >"$T/push.out" 2>>"$T/agent.log" || rc=$?
note "pushed in $(($(date +%s) - started)) s: $(tr '\n' ' ' <"$T/push.out")"
assert_eq "push exit" 0 "$rc"
assert_eq "per-table line" "pushed 9950 screenshots; uploaded 9950 files" \
    "$(sed -n 2p "$T/push.out" | sed 's/ (.*//')"
grep -q "; 50 changes parked: see 'ferry dead list'" "$T/push.out" ||
    fail "summary: $(cat "$T/push.out")"

ferry_in a dead list --json >"$T/dead.json" 2>>"$T/agent.log" || fail "dead list"
python3 - "$T/dead.json" "$T/shots" <<'PY' || fail "dead letters: $(head -c 600 "$T/dead.json")"
import json, sys
dead = json.load(open(sys.argv[1]))
assert len(dead) == 50, len(dead)
ids = sorted(d["key"][0] for d in dead)
assert ids == list(range(200, 10001, 200)), ids
for d in dead:
    want = "file '%s/%d.png' does not exist" % (sys.argv[2], d["key"][0])
    assert d["code"] == "file_missing" and want in d["message"], d
PY

store_sql "SELECT id, image_sha256 FROM screenshots ORDER BY id" >"$T/stored.txt"
python3 - "$T/stored.txt" "$T/shots" <<'PY' || fail "stored hashes"
import hashlib, os, sys
rows = [l.split("|") for l in open(sys.argv[1]).read().split()]
assert len(rows) == 9950, len(rows)
for i, h in rows:
    f = os.path.join(sys.argv[2], i + ".png")
    assert h == hashlib.sha256(open(f, "rb").read()).hexdigest(), (i, h)
PY
for i in 1 77 199 201 4321 9999; do
    files_get "$(files_sha "$T/shots/$i.png")" "$T/got"
    cmp -s "$T/got" "$T/shots/$i.png" || fail "blob of $i.png differs"
done
assert_eq "nothing left to upload" 0 \
    "$(app_sql "$APP" "SELECT count(*) FROM _ferry_blobs WHERE state <> 'done'")"
