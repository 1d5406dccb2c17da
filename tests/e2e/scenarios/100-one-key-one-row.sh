# One key is one row, on both stores, whatever its spelling; and a row the
# store cannot hold is a per-change verdict (parked), never a 500 that
# blocks the device. Part 1 posts a generated family of cases (each type x
# odd spellings) straight to /v1/push: each ends in 200 or a 422 naming the
# change, and the rows stored are the same on both stores (the expectations
# below are shared). Part 2 queues a bad row, a row the store refuses and
# good rows of another table in one agent backlog.
write_contract "$T/contract.json" <<'JSON'
{"version": 1, "tables": [
 {"name": "k_numeric", "columns": [{"name": "k", "type": "numeric", "not_null": true}], "primary_key": ["k"]},
 {"name": "k_double", "columns": [{"name": "k", "type": "double precision", "not_null": true}], "primary_key": ["k"]},
 {"name": "k_ts", "columns": [{"name": "k", "type": "timestamptz", "not_null": true}], "primary_key": ["k"]},
 {"name": "k_date", "columns": [{"name": "k", "type": "date", "not_null": true}], "primary_key": ["k"]},
 {"name": "k_text", "columns": [{"name": "k", "type": "text", "not_null": true}], "primary_key": ["k"]},
 {"name": "k_bool", "columns": [{"name": "k", "type": "boolean", "not_null": true}], "primary_key": ["k"]},
 {"name": "k_jsonb", "columns": [{"name": "k", "type": "jsonb", "not_null": true}], "primary_key": ["k"]},
 {"name": "k_pair", "columns": [{"name": "a", "type": "text", "not_null": true},
                                {"name": "b", "type": "numeric", "not_null": true}], "primary_key": ["a", "b"]},
 {"name": "good", "columns": [{"name": "id", "type": "bigint", "not_null": true},
                              {"name": "name", "type": "text"}], "primary_key": ["id"]},
 {"name": "bad", "columns": [{"name": "k", "type": "text", "not_null": true},
                             {"name": "v", "type": "text"}], "primary_key": ["k"]},
 {"name": "stamps", "columns": [{"name": "at", "type": "timestamptz", "not_null": true},
                                {"name": "v", "type": "text"}], "primary_key": ["at"]}]}
JSON
ferryd_migrate
KEY=$(make_key dev-1)
start_ferryd

SEQ=0
change() { # table row-json -> one change with seq $SEQ (callers bump it)
    printf '{"seq":%d,"table":"%s","op":"upsert","hlc":"%016x","row":%s}' \
        "$SEQ" "$1" $((SEQ + 65536)) "$2"
}
long() { head -c "$1" /dev/zero | tr '\0' "${2:-x}"; }

# case TABLE EXPECT VALUE... : the values as one batch of key-only rows;
# EXPECT is the number of rows stored, or 422 (every change named).
CASES=0
case_() {
    _t=$1 _want=$2
    shift 2
    _body= _n=0
    for _v in "$@"; do
        SEQ=$((SEQ + 1))
        _body="$_body${_body:+,}$(change "$_t" "{\"k\":$_v}")"
        _n=$((_n + 1))
    done
    store_sql "DELETE FROM $_t" >/dev/null
    _got=$(http_post /v1/push "$KEY" "{\"changes\":[$_body]}")
    CASES=$((CASES + 1))
    [ "$_got" = 500 ] && fail "case $_t $*: 500: $(cat "$T/resp.json")"
    if [ "$_want" = 422 ]; then
        assert_eq "case $_t $* status" 422 "$_got"
        grep -q '"changes":\[{"seq"' "$T/resp.json" ||
            fail "case $_t $*: no per-change verdict: $(cat "$T/resp.json")"
        assert_eq "case $_t $* stored nothing" 0 "$(store_sql "SELECT count(*) FROM $_t")"
    else
        assert_eq "case $_t $* status ($(cat "$T/resp.json"))" 200 "$_got"
        assert_eq "case $_t $* rows" "$_want" "$(store_sql "SELECT count(*) FROM $_t")"
    fi
}

# numeric: PostgreSQL compares by value; the SQLite store keeps doubles
case_ k_numeric 1 1 '"1.0"' '"1.00"' '"+1"' '"1e0"' '"0.1e1"' 1.0
case_ k_numeric 1 '"-0"' '"0.000"' -0.0 0 '"0e999999"'
case_ k_numeric 1 '"100"' '"1e2"' 100 '"00100.000"'
case_ k_numeric 1 0.1 '"0.1"' '"0.10"' '"1e-1"'
case_ k_numeric 1 '"12345678901234567"' '"12345678901234567.000"' 12345678901234567
case_ k_numeric 2 '"1.5"' '"1.50000000000001"'
case_ k_numeric 2 '"-1"' '"1"'
case_ k_numeric 422 '"1e999999"'
case_ k_numeric 422 "\"1$(long 2000 0)\""
case_ k_numeric 422 '"1e-400"'
case_ k_numeric 422 '"0.1234567890123456789"'
# double precision: -0 is 0, the same double is the same key
case_ k_double 1 -0.0 0.0 0 '-0'
case_ k_double 1 0.1 0.1000000000000000055511151231257827
case_ k_double 2 0.1 0.2
case_ k_double 1 1e300 1.0e300
# timestamptz: one instant, any spelling; microseconds rounded as PostgreSQL
case_ k_ts 1 '"2026-01-01 10:00:00"' '"2026-01-01T10:00:00"' '"2026-01-01T10:00:00Z"' \
    '"2026-01-01T10:00:00+00:00"' '"2026-01-01 12:00:00+02"' '"2026-01-01T05:30:00-0430"'
case_ k_ts 1 '"2026-01-01"' '"2026-01-01T00:00:00z"' '"2025-12-31 23:59:60"'
case_ k_ts 1 '"2026-01-01 10:00:00.0000005"' '"2026-01-01 10:00:00"'
case_ k_ts 1 '"2026-01-01 10:00:00.0000015"' '"2026-01-01 10:00:00.000002"' '"2026-01-01 10:00:00.0000025"'
case_ k_ts 1 '"2026-01-01 10:00:00.5"' '"2026-01-01 10:00:00.500000"' '"2026-01-01 10:00:00.5000001"'
case_ k_ts 2 '"2026-01-01 10:00:00.1"' '"2026-01-01 10:00:00.2"'
case_ k_ts 1 '"0001-01-01 00:00:00"' '"0001-01-01 01:00:00+01"'
case_ k_ts 422 '"0000-06-01 10:00:00"'
case_ k_ts 422 '"0001-01-01 00:00:00+01"'
case_ k_ts 422 '"9999-12-31T23:59:59.9999999"'
case_ k_ts 422 '"2026-02-30 10:00:00"'
# date, text, boolean, jsonb
case_ k_date 1 '"2026-01-01"' '"2026-01-01"'
case_ k_date 422 '"0000-01-01"'
case_ k_text 2 '"a"' '"A"'
case_ k_text 2 '"e\u0301"' '"\u00e9"'
case_ k_text 1 "\"$(long 2048)\""
case_ k_text 422 "\"$(long 2049)\""
case_ k_text 422 "\"$(long 3000)\""
case_ k_bool 1 true 1
case_ k_bool 2 false true
case_ k_jsonb 1 '{"a":1,"b":[2,3.0]}' '{"b":[2.0,3],"a":1.0}' '{"b":[2,3],"a":1e0}'
case_ k_jsonb 2 '[1]' '[1.5]'
case_ k_jsonb 1 '"x"' '"x"'
# a composite key counts all its parts
store_sql "DELETE FROM k_pair" >/dev/null
c1=$(SEQ=$((SEQ + 1)) change k_pair '{"a":"x","b":1}')
c2=$(SEQ=$((SEQ + 2)) change k_pair '{"a":"x","b":"1.0"}')
c3=$(SEQ=$((SEQ + 3)) change k_pair '{"a":"y","b":"1.0"}')
SEQ=$((SEQ + 4))
got=$(http_post /v1/push "$KEY" "{\"changes\":[$c1,$c2,$c3]}")
assert_eq "composite key" "200 2" "$got $(store_sql 'SELECT count(*) FROM k_pair')"
SEQ=$((SEQ + 1))
got=$(http_post /v1/push "$KEY" "{\"changes\":[$(change k_pair "{\"a\":\"$(long 2045)\",\"b\":1}")]}")
assert_eq "composite key too long" 422 "$got"
grep -q '"code":"key_too_long"' "$T/resp.json" || fail "key_too_long: $(cat "$T/resp.json")"
note "$CASES generated cases"

# The stored spelling is the same on both stores.
store_sql "DELETE FROM k_ts" >/dev/null
SEQ=$((SEQ + 1))
http_post /v1/push "$KEY" "{\"changes\":[$(change k_ts '{"k":"2026-01-01T12:00:00.250+02:00"}')]}" >/dev/null
case $STORE in
sqlite) ts=$(store_sql 'SELECT k FROM k_ts') ;;
pg) ts=$(store_sql "SELECT to_char(k AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') FROM k_ts" |
    sed 's/0*$//; s/$/+00:00/') ;;
esac
assert_eq "timestamp spelling" "2026-01-01 10:00:00.25+00:00" "$ts"
health_ok

# Part 2: one agent backlog. 'bad' holds a 3 KB key (no index can hold it),
# 'stamps' one instant in two spellings, 'good' forty rows of which one
# the store refuses (a check the store's owner added).
case $STORE in
sqlite) store_sql "CREATE TRIGGER no_poison BEFORE INSERT ON good
    WHEN NEW.name = 'poison' BEGIN SELECT RAISE(ABORT, 'no_poison'); END" ;;
pg) store_sql "ALTER TABLE good ADD CONSTRAINT no_poison CHECK (name <> 'poison')" ;;
esac
agent_init a dev-1 8
APP=$T/a/app.db
app_sql "$APP" "CREATE TABLE good (id INTEGER PRIMARY KEY, name TEXT);
  CREATE TABLE bad (k TEXT PRIMARY KEY, v TEXT);
  CREATE TABLE stamps (at DATETIME PRIMARY KEY, v TEXT)"
for t in good bad stamps; do ferry_in a track $t >/dev/null || fail "track $t"; done
app_sql "$APP" "INSERT INTO bad VALUES (printf('%.3000c', 'k'), 'too long');
  INSERT INTO stamps VALUES ('2026-01-01 10:00:00', 'space');
  INSERT INTO stamps VALUES ('2026-01-01T10:00:00', 'T');
  WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40)
  INSERT INTO good SELECT i, CASE i WHEN 17 THEN 'poison' ELSE 'row ' || i END FROM n"
ferry_in a push >"$T/push.out" 2>>"$T/agent.log" || fail "push: $(tail -n 5 "$T/agent.log")"
assert_eq "good rows arrived" 39 "$(store_sql 'SELECT count(*) FROM good')"
assert_eq "one instant, one row" "1|T" "$(store_sql 'SELECT count(*), max(v) FROM stamps')"
assert_eq "bad key not stored" 0 "$(store_sql 'SELECT count(*) FROM bad')"
assert_eq "parked" "422|key_too_long|bad
422|store_rejected|good" "$(app_sql "$APP" 'SELECT status, code, tbl FROM _ferry_dead ORDER BY code')"
app_sql "$APP" "SELECT message FROM _ferry_dead WHERE code = 'store_rejected'" |
    grep -q "no_poison" || fail "the store's reason: $(app_sql "$APP" 'SELECT message FROM _ferry_dead')"
app_sql "$APP" "SELECT message FROM _ferry_dead WHERE code = 'store_rejected'" |
    grep -qi "insert\|select" && fail "no SQL text in the reason"
assert_eq "outbox drained" 0 "$(app_sql "$APP" 'SELECT count(*) FROM _ferry_outbox')"
# The next push is clean and the device is not blocked.
app_sql "$APP" "INSERT INTO good VALUES (41, 'after')"
ferry_in a push >"$T/push2.out" 2>>"$T/agent.log" || fail "second push"
assert_eq "next push arrives" 40 "$(store_sql 'SELECT count(*) FROM good')"
assert_eq "nothing more parked" 2 "$(app_sql "$APP" 'SELECT count(*) FROM _ferry_dead')"
grep -q "500" "$T/ferryd.log" && fail "ferryd answered 500: $(grep 500 "$T/ferryd.log" | head -3)"
true
