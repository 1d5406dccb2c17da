# No lost update: 32 clients PATCH the same rows at once, each its own
# column (client i sets c<i> to 1, 2, 3, ... in turn), each with a key of
# its own device, so nothing but the row locks orders them. At the end
# every column of every row holds its client's last value: a write that
# committed later was never made stale by one that committed earlier.
# Then the same for rows that do not exist yet: each client POSTs new rows
# with its own column only; one of them creates each row, the others
# update it, and every column arrives. On PostgreSQL the clients are split
# over two ferryd processes.
own_pg fsync=off
COLS=$(python3 -c 'print(", ".join("{\"name\": \"c%d\", \"type\": \"bigint\"}" % i for i in range(32)))')
write_contract "$T/contract.json" <<JSON
{"version": 1, "tables": [{"name": "counters", "columns": [
  {"name": "id", "type": "bigint", "not_null": true}, $COLS],
  "primary_key": ["id"]}]}
JSON
ferryd_migrate
: >"$T/keys"
for i in $(seq 0 31); do make_key "client$i" >>"$T/keys"; done
start_ferryd
URLS=$URL
if [ "$STORE" = pg ]; then
    FIRST_PID=$FERRYD_PID
    start_ferryd
    SECOND_PID=$FERRYD_PID
    URLS="$URLS $URL"
fi
ROWS=4
ROUNDS=15

cat >"$T/patch.py" <<'PY'
import json, sys, threading
import requests

urls, keys = sys.argv[1].split(), open(sys.argv[2]).read().split()
rows, rounds = int(sys.argv[3]), int(sys.argv[4])
errors = []

def client(i):
    s = requests.Session()
    base = urls[i % len(urls)]
    h = {"X-Api-Key": keys[i], "Content-Type": "application/json"}
    for n in range(1, rounds + 1):
        for row in range(1, rows + 1):
            r = s.patch(f"{base}/v1/tables/counters/rows/{row}",
                        data=json.dumps({f"c{i}": n}), headers=h, timeout=60)
            if r.status_code != 200 or r.json().get("result") != "updated":
                errors.append(f"client {i} row {row} round {n}: {r.status_code} {r.text}")
                return

s = requests.Session()
for row in range(1, rows + 1):
    r = s.post(f"{urls[0]}/v1/tables/counters/rows", data=json.dumps({"id": row}),
               headers={"X-Api-Key": keys[0], "Content-Type": "application/json"})
    assert r.status_code == 200, r.text
threads = [threading.Thread(target=client, args=(i,)) for i in range(32)]
for t in threads:
    t.start()
for t in threads:
    t.join()
results = {}

def creator(i):
    s = requests.Session()
    base = urls[i % len(urls)]
    h = {"X-Api-Key": keys[i], "Content-Type": "application/json"}
    body = [{"id": 100 + row, f"c{i}": rounds} for row in range(rows)]
    r = s.post(f"{base}/v1/tables/counters/rows", data=json.dumps(body),
               headers=h, timeout=60)
    if r.status_code != 200:
        errors.append(f"creator {i}: {r.status_code} {r.text}")
        return
    for res in r.json()["results"]:
        results.setdefault(res["key"]["id"], []).append(res["result"])

threads = [threading.Thread(target=creator, args=(i,)) for i in range(32)]
for t in threads:
    t.start()
for t in threads:
    t.join()
for row, got in sorted(results.items()):
    if sorted(got) != ["created"] + ["updated"] * 31:
        errors.append(f"new row {row}: {got.count('created')} created of {len(got)}")
print("\n".join(errors[:5]) if errors else "ok")
PY
python3 "$T/patch.py" "$URLS" "$T/keys" $ROWS $ROUNDS >"$T/patch.out" 2>&1 ||
    fail "clients: $(tail -n 5 "$T/patch.out")"
assert_eq "clients" ok "$(cat "$T/patch.out")"

sum=$(python3 -c 'print(" + ".join("c%d" % i for i in range(32)))')
assert_eq "every increment is there" "$((2 * ROWS)) rows of $((32 * ROUNDS))" \
    "$(store_sql "SELECT count(*) || ' rows of ' || min($sum) FROM counters WHERE $(python3 -c "print(' AND '.join('c%d = $ROUNDS' % i for i in range(32)))")")"
if [ "$STORE" = pg ]; then
    for p in $FIRST_PID $SECOND_PID; do
        FERRYD_PID=$p
        stop_ferryd
    done
fi
