# GET /v1/changes with real pushes from three keys: what each key reads
# (region scope, "read": "all", push-only tables, its own writes only in a
# full pass), the wire encoding of every type, paging with limit, deletes,
# every bad input's status and code, and 410 cursor_expired once the
# tombstone retention pruned a delete the cursor had not seen.
# On PostgreSQL a cluster of its own: the reads below expect every pushed
# row at once, and the shared cluster's horizon is held back by the other
# scenarios' open transactions (CI saw a read miss a row committed 1 ms
# earlier).
own_pg
write_contract "$T/contract.json" <<'JSON'
{"version": 1, "tables": [
 {"name": "notes", "columns": [
   {"name": "id", "type": "bigint", "not_null": true},
   {"name": "region", "type": "text"}, {"name": "body", "type": "text"},
   {"name": "flag", "type": "boolean"}, {"name": "data", "type": "bytea"},
   {"name": "price", "type": "double precision"},
   {"name": "meta", "type": "jsonb"}, {"name": "amount", "type": "numeric"}],
  "primary_key": ["id"], "region_column": "region"},
 {"name": "shared", "columns": [{"name": "id", "type": "text", "not_null": true},
   {"name": "v", "type": "text"}], "primary_key": ["id"], "read": "all"},
 {"name": "beats", "columns": [{"name": "device", "type": "text", "not_null": true},
   {"name": "id", "type": "bigint", "not_null": true}],
  "primary_key": ["device", "id"], "device_column": "device"}]}
JSON
ferryd_migrate
KA=$(make_key pc-eu --region eu)
KB=$(make_key pc-us --region us)
KADM=$(make_key hq --admin)
KR=$(make_key gone)
"$FERRYD" --store "$STORE_URL" keys revoke "$(echo "$KR" | cut -c4-19)" >/dev/null || fail revoke
start_ferryd

echo 0 >"$T/seq"
# The next seq (a file: up and del run in subshells); gaps are fine.
next_seq() {
    _s=$(($(cat "$T/seq") + 1))
    echo $_s >"$T/seq"
    echo $_s
}
push() { # KEY CHANGES-JSON
    code=$(http_post /v1/push "$1" "{\"changes\": [$2]}")
    [ "$code" = 200 ] || fail "push: $code $(cat "$T/resp.json")"
}
up() { # TABLE HLC ROW
    echo "{\"seq\": $(next_seq), \"table\": \"$1\", \"op\": \"upsert\", \"hlc\": \"$2\", \"row\": $3}"
}
del() {
    echo "{\"seq\": $(next_seq), \"table\": \"$1\", \"op\": \"delete\", \"hlc\": \"$2\", \"row\": $3}"
}
# changes KEY QUERY -> status; the answer in $T/ch.json
changes() {
    curl -s -o "$T/ch.json" -w '%{http_code}' ${1:+-H "X-Api-Key: $1"} \
        "$URL/v1/changes$2"
}
# summary: "table:op:key" of each change, then the cursor's kind and more
summary() {
    python3 - "$T/ch.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
out = []
for c in d["changes"]:
    k = c["row"].get("id")
    out.append("%s:%s:%s" % (c["table"], c["op"][0], k))
out.append("cursor=" + d["cursor"][:2] + " more=" + str(d["more"]).lower())
out.append("tables=" + ",".join(sorted(d["tables"])))
print(" ".join(out))
PY
}
cursor() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["cursor"])' "$T/ch.json"; }

H=0190000000000000
push "$KA" "$(up notes $H '{"id": 1, "body": "eu note", "flag": true, "data": "AAEC/w==", "price": 0.30000000000000004, "meta": {"b": [1, 2], "a": null}, "amount": "12.50"}'),
    $(up shared $H '{"id": "s1", "v": "from eu"}')"
push "$KB" "$(up notes $H '{"id": 2, "body": "us note"}'),
    $(up shared $H '{"id": "s2", "v": "from us"}'), $(up beats $H '{"id": 1}')"

# A full pass (no cursor) sends the key's own writes too; scope applies.
assert_eq "eu full pass" 200 "$(changes "$KA" "")"
assert_eq "eu reads" "notes:u:1 shared:u:s1 shared:u:s2 cursor=c1 more=false tables=notes,shared" "$(summary)"
CA=$(cursor)
assert_eq "us full pass" 200 "$(changes "$KB" "")"
assert_eq "us reads" "shared:u:s1 notes:u:2 shared:u:s2 cursor=c1 more=false tables=notes,shared" "$(summary)"
CB=$(cursor)
assert_eq "admin full pass" 200 "$(changes "$KADM" "?limit=5000")"
assert_eq "admin reads" "notes:u:1 shared:u:s1 notes:u:2 shared:u:s2 cursor=c1 more=false tables=notes,shared" "$(summary)"

# Every type on the wire as the contract says, origin and stamp included.
python3 - "$T/ch.json" <<'PY' || fail "wire encoding"
import json, sys
d = json.load(open(sys.argv[1]))
n = [c for c in d["changes"] if c["table"] == "notes" and c["row"]["id"] == 1][0]
r = n["row"]
assert n["origin"] == "pc-eu" and n["hlc"] == "0190000000000000", n
assert r["region"] == "eu" and r["body"] == "eu note", r
assert r["flag"] is True and r["data"] == "AAEC/w==", r
assert r["price"] == 0.30000000000000004, r["price"]
assert r["meta"] == {"b": [1, 2], "a": None}, r["meta"]
assert float(r["amount"]) == 12.5, r["amount"]
n2 = [c for c in d["changes"] if c["table"] == "notes" and c["row"]["id"] == 2][0]
assert n2["row"]["data"] is None and n2["row"]["flag"] is None, n2
t = d["tables"]["notes"]
assert t["key"] == ["id"] and t["types"]["data"] == "bytea", t
PY

# Nothing new: nothing sent, the same place.
assert_eq "nothing new" 200 "$(changes "$KA" "?since=$CA")"
assert_eq "nothing new summary" "cursor=c1 more=false tables=notes,shared" "$(summary)"
# Others' writes arrive, the key's own do not; deletes carry the key.
H2=0190000000010000
push "$KB" "$(up shared $H2 '{"id": "s1", "v": "us edit"}'), $(del shared $H2 '{"id": "s2"}')"
push "$KA" "$(up shared $H2 '{"id": "s3", "v": "eu again"}')"
assert_eq "eu incremental" 200 "$(changes "$KA" "?since=$CA")"
# One push is one moment: the order of its rows among themselves is free.
assert_eq "eu sees us" "cursor=c1 more=false shared:d:s2 shared:u:s1 tables=notes,shared" "$(summary | tr ' ' '\n' | sort | tr '\n' ' ' | sed 's/ $//')"
python3 - "$T/ch.json" <<'PY' || fail "delete row"
import json, sys
d = {c["row"]["id"]: c for c in json.load(open(sys.argv[1]))["changes"]}
assert d["s2"]["row"] == {"id": "s2"} and d["s2"]["op"] == "delete", d["s2"]
assert d["s1"]["row"]["v"] == "us edit", d["s1"]
PY
assert_eq "us incremental" 200 "$(changes "$KB" "?since=$CB")"
assert_eq "us sees eu" "shared:u:s3 cursor=c1 more=false tables=notes,shared" "$(summary)"

# Pages of one: the same sequence, a full-pass cursor until the end.
pages=0
got=
since=
while :; do
    assert_eq "page" 200 "$(changes "$KADM" "?limit=1$since")"
    got="$got $(summary | cut -d' ' -f1)"
    pages=$((pages + 1))
    [ $pages -lt 20 ] || fail "paging does not end"
    if summary | grep -q 'more=false'; then break; fi
    summary | grep -q 'cursor=f1' || fail "a full pass keeps its kind until it ends: $(summary)"
    since="&since=$(cursor)"
done
case $got in
" notes:u:1 notes:u:2 shared:"?":s"?" shared:"?":s"?" shared:u:s3") ;;
*) fail "paged admin: $got" ;;
esac

# Bad input: status and code, and the store unchanged (digest of notes).
before=$(store_sql "SELECT count(*), max(id) FROM notes")
bad() { # what status code key query
    got=$(changes "$4" "$5")
    assert_eq "$1 status" "$2" "$got"
    grep -q "\"code\":\"$3\"" "$T/ch.json" || fail "$1: $(cat "$T/ch.json")"
}
bad "not a cursor" 400 bad_parameter "$KA" "?since=garbage"
bad "short cursor" 400 bad_parameter "$KA" "?since=c1.1"
bad "signed cursor" 400 bad_parameter "$KA" "?since=c1.-1.0"
bad "huge cursor" 400 bad_parameter "$KA" "?since=c1.99999999999999999999.0"
bad "trailing cursor" 400 bad_parameter "$KA" "?since=c1.1.2x"
bad "full without epoch" 400 bad_parameter "$KA" "?since=f1.1.2"
bad "limit 0" 400 bad_parameter "$KA" "?limit=0"
bad "limit 5001" 400 bad_parameter "$KA" "?limit=5001"
bad "limit text" 400 bad_parameter "$KA" "?limit=ten"
bad "no key" 401 unauthorized "" ""
bad "revoked key" 401 unauthorized "$KR" ""
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "X-Api-Key: $KA" "$URL/v1/changes")
assert_eq "POST /v1/changes" 405 "$code"
assert_eq "store unchanged" "$before" "$(store_sql "SELECT count(*), max(id) FROM notes")"

# Retention: a delete older than it is pruned by the next pull, and a
# cursor from before that delete gets 410; a new full pass goes on.
stop_ferryd
echo '{"tombstone_retention": 1}' >"$T/settings.json"
FERRYD_ARGS="--config $T/settings.json"
start_ferryd
now_hlc=$(python3 -c 'import time; print("%016x" % (int(time.time() * 1000) << 16))')
push "$KB" "$(del shared "$now_hlc" '{"id": "s3"}')"
sleep 2.2
bad "expired cursor" 410 cursor_expired "$KA" "?since=$CA"
grep -q 'pruned 2 tombstones' "$T/ferryd.log" || fail "no prune logged: $(tail -n 3 "$T/ferryd.log")"
assert_eq "full pass after 410" 200 "$(changes "$KA" "")"
assert_eq "eu after prune" "notes:u:1 shared:u:s1 cursor=c1 more=false tables=notes,shared" "$(summary)"
assert_eq "then incremental" 200 "$(changes "$KA" "?since=$(cursor)")"
echo '{"tombstone_retention": 0}' >"$T/bad.json"
rc=0
"$FERRYD" --config "$T/bad.json" --store "$STORE_URL" migrate >/dev/null 2>"$T/bad.err" || rc=$?
assert_eq "retention 0 refused" 3 "$rc"
grep -q 'tombstone_retention' "$T/bad.err" || fail "the error names the setting: $(cat "$T/bad.err")"
health_ok
