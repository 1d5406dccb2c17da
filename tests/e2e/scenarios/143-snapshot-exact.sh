# A download taken while a push is still open (held by the test hook
# FERRY_TEST_HOLD_COMMIT) records exactly which writes it holds: a row
# written by a later push that committed first is in it, so the office's
# edit of that row is applied on upload (not judged "changed since" as a
# bare cursor below the open push would), and the held push's row, not in
# the file, is not deleted by its absence.
# On PostgreSQL a cluster of its own: the held push holds back the cluster's
# horizon, which would stall other scenarios' pulls on the shared one.
own_pg
write_contract "$T/contract.json" <<'JSON'
{"version": 1, "tables": [
 {"name": "ts", "columns": [
   {"name": "id", "type": "text", "not_null": true},
   {"name": "region", "type": "text", "not_null": true},
   {"name": "v", "type": "text"}],
  "primary_key": ["id"], "region_column": "region", "read": "all"}]}
JSON
ferryd_migrate
KOFF=$(make_key desk-ankara --region Ankara)
KW=$(make_key writer)
KH=$(make_key holder)
export FERRY_TEST_HOLD_COMMIT=holder:3000
start_ferryd
unset FERRY_TEST_HOLD_COMMIT

up() { # KEY SEQ ID V
    code=$(http_post /v1/push "$1" "{\"changes\": [{\"seq\": $2, \"table\": \"ts\", \"op\": \"upsert\", \"hlc\": \"0190000000000000\", \"row\": {\"id\": \"$3\", \"region\": \"Ankara\", \"v\": \"$4\"}}]}")
    [ "$code" = 200 ] || fail "push $3: $code $(cat "$T/resp.json")"
}
up "$KW" 1 r1 one
# The holder's push stays open 3 s; the writer's next push commits first
# (on PostgreSQL; the SQLite store's writers take turns, so there it waits).
(up "$KH" 1 h1 held) &
HOLD=$!
sleep 0.5
up "$KW" 2 r2 two
assert_eq "download" 200 "$(curl -s -o "$T/off.db" -w '%{http_code}' -H "X-Api-Key: $KOFF" "$URL/v1/snapshots/latest")"
wait $HOLD || fail "held push"
IN_FILE=$(sqlite3 "$T/off.db" "SELECT group_concat(id, ' ') FROM (SELECT id FROM ts ORDER BY id)")
case $STORE in
pg) assert_eq "the held row is not in the file" "r1 r2" "$IN_FILE" ;;
sqlite) assert_eq "the held row committed first" "h1 r1 r2" "$IN_FILE" ;;
esac
sqlite3 "$T/off.db" "UPDATE ts SET v = 'two, edited at the office' WHERE id = 'r2'"
assert_eq "upload" 200 "$(curl -s -o "$T/resp.json" -w '%{http_code}' -H "X-Api-Key: $KOFF" -F "db=@$T/off.db" "$URL/v1/snapshots")"
assert_eq "r2's edit applied, nothing deleted" \
    '{"created":0,"updated":1,"deleted":0,"unchanged":'"$(echo "$IN_FILE" | wc -w | awk '{print $1 - 1}')"',"ignored":0,"stale":0}' \
    "$(cat "$T/resp.json")"
assert_eq "store" "h1:held r1:one r2:two, edited at the office" \
    "$(store_sql "SELECT id || ':' || v FROM ts ORDER BY id" | tr '\n' ' ' | sed 's/ $//')"
