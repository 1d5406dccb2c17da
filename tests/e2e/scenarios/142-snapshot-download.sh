# GET /v1/snapshots/latest: a complete, sound SQLite file of the contract
# tables the key may read (read scope as GET /v1/changes), with the
# contract's columns and keys and a _ferry_snapshot cursor; an ETag that
# stays while nothing the key may read changes (304 to If-None-Match) and
# changes after any write it may read; Range answers. Then deletes by
# absence: a file that comes back without a row deletes it, unless the
# row changed in the store since the download.
write_contract "$T/contract.json" <<'JSON'
{"version": 1, "tables": [
 {"name": "notes", "columns": [
   {"name": "id", "type": "bigint", "not_null": true},
   {"name": "region", "type": "text"}, {"name": "body", "type": "text"},
   {"name": "flag", "type": "boolean"}, {"name": "data", "type": "bytea"},
   {"name": "price", "type": "double precision"}, {"name": "day", "type": "date"},
   {"name": "meta", "type": "jsonb"}, {"name": "amount", "type": "numeric"}],
  "primary_key": ["id"], "region_column": "region", "read": "region"},
 {"name": "shared", "columns": [{"name": "id", "type": "text", "not_null": true},
   {"name": "region", "type": "text"}, {"name": "v", "type": "text"}],
  "primary_key": ["id"], "region_column": "region", "read": "all"},
 {"name": "beats", "columns": [{"name": "device", "type": "text", "not_null": true},
   {"name": "id", "type": "bigint", "not_null": true}],
  "primary_key": ["device", "id"], "device_column": "device"}]}
JSON
ferryd_migrate
KA=$(make_key pc-eu --region eu)
KB=$(make_key pc-us --region us)
start_ferryd

S=0
push() { # KEY CHANGES-JSON
    S=$((S + 1))
    code=$(http_post /v1/push "$1" "{\"changes\": [$(echo "$2" | sed "s/SEQ/$S/")]}")
    [ "$code" = 200 ] || fail "push: $code $(cat "$T/resp.json")"
}
up() { # TABLE HLC ROW
    echo "{\"seq\": SEQ, \"table\": \"$1\", \"op\": \"upsert\", \"hlc\": \"$2\", \"row\": $3}"
}
# get KEY [ETAG] -> status; the file in $T/dl.db, headers in $T/dl.h
get() {
    curl -s -D "$T/dl.h" -o "$T/dl.db" -w '%{http_code}' -H "X-Api-Key: $1" \
        ${2:+-H "If-None-Match: $2"} "$URL/v1/snapshots/latest"
}
etag() { sed -n 's/^ETag: *\([^\r]*\).*/\1/Ip' "$T/dl.h"; }
dsql() { sqlite3 -bail "$T/dl.db" "$1" || fail "on the download: $1"; }

push "$KA" "$(up notes 0190000000000000 '{"id": 1, "body": "eu note", "flag": true, "data": "AAEC/w==", "price": 0.30000000000000004, "day": "2026-01-19", "meta": {"b": [1, 2]}, "amount": "12.50"}')"
push "$KA" "$(up shared 0190000000000000 '{"id": "s1", "v": "from eu"}')"
push "$KB" "$(up notes 0190000000000000 '{"id": 2, "body": "us note"}')"
push "$KB" "$(up beats 0190000000000000 '{"id": 1}')"

note "the file: sound, typed, scoped, with its cursor"
assert_eq "download" 200 "$(get "$KA")"
grep -qi '^Content-Type: application/x-sqlite3' "$T/dl.h" || fail "content type: $(cat "$T/dl.h")"
E1=$(etag)
[ -n "$E1" ] || fail "no ETag"
assert_eq "integrity" ok "$(dsql 'PRAGMA integrity_check')"
assert_eq "tables: readable ones and the marker" "_ferry_snapshot notes shared" \
    "$(dsql "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name" | tr '\n' ' ' | sed 's/ $//')"
assert_eq "eu reads its region's notes, every shared row" "notes:1 shared:s1" \
    "$(dsql "SELECT 'notes:' || id FROM notes UNION ALL SELECT 'shared:' || id FROM shared" | tr '\n' ' ' | sed 's/ $//')"
assert_eq "values typed as the SQLite store holds them" \
    "integer|eu note|1|000102FF|0.3|2026-01-19|{\"b\": [1, 2]}|12.5" \
    "$(dsql "SELECT typeof(id), body, flag, hex(data), round(price, 10), day, meta, amount FROM notes" |
        sed 's/{"b":\[1,2\]}/{"b": [1, 2]}/')"
assert_eq "the key" "1" "$(dsql "SELECT pk FROM pragma_table_info('notes') WHERE name = 'id'")"
case "$(dsql "SELECT cursor FROM _ferry_snapshot")" in
c1.[0-9]*.[0-9]*) ;;
*) fail "marker: $(dsql "SELECT cursor FROM _ferry_snapshot")" ;;
esac

note "ETag: 304 while nothing the key reads changes"
assert_eq "same again" 304 "$(get "$KA" "$E1")"
assert_eq "a list with it" 304 "$(get "$KA" "\"x\", $E1")"
push "$KB" "$(up notes 0190000000000001 '{"id": 3, "body": "another us note"}')"
push "$KB" "$(up beats 0190000000000001 '{"id": 2}')"
assert_eq "us-only writes leave eu's tag" 304 "$(get "$KA" "$E1")"
assert_eq "us sees its own change" 200 "$(get "$KB")"
push "$KB" "$(up shared 0190000000000002 '{"id": "s2", "v": "from us"}')"
assert_eq "a shared write changes eu's tag" 200 "$(get "$KA" "$E1")"
E2=$(etag)
[ "$E2" != "$E1" ] || fail "same ETag after a write eu reads"
push "$KA" "$(up notes 0190000000000003 '{"id": 1, "body": "eu note, edited"}')"
assert_eq "an update changes it" 200 "$(get "$KA" "$E2")"
E3=$(etag)
[ "$E3" != "$E2" ] || fail "same ETag after an update"
assert_eq "range" 206 "$(curl -s -o /dev/null -w '%{http_code}' -H "X-Api-Key: $KA" -H 'Range: bytes=0-15' "$URL/v1/snapshots/latest")"
assert_eq "header bytes" "SQLite format 3" "$(curl -s -H "X-Api-Key: $KA" -H 'Range: bytes=0-14' "$URL/v1/snapshots/latest")"

note "deletes by absence, with the file's cursor"
assert_eq "eu downloads" 200 "$(get "$KA")"
cp "$T/dl.db" "$T/eu.db"
push "$KA" "$(up shared 0190000000000004 '{"id": "s3", "v": "written after the download"}')"
sqlite3 "$T/eu.db" "DELETE FROM notes WHERE id = 1; DELETE FROM shared WHERE id IN ('s1', 's2')"
assert_eq "upload" 200 "$(curl -s -o "$T/resp.json" -w '%{http_code}' -H "X-Api-Key: $KA" -F "db=@$T/eu.db" "$URL/v1/snapshots")"
assert_eq "counts" '{"created":0,"updated":0,"deleted":2,"unchanged":0,"ignored":0,"stale":0}' "$(cat "$T/resp.json")"
assert_eq "eu's notes row and shared row gone; us's and the newer one stay" "2 3 s2 s3" \
    "$(store_sql "SELECT CAST(id AS TEXT) FROM notes UNION ALL SELECT id FROM shared ORDER BY 1" | tr '\n' ' ' | sed 's/ $//')"
assert_eq "an empty table in the file deletes the key's rows too" 200 "$(get "$KA")"
sqlite3 "$T/dl.db" "DELETE FROM shared"
assert_eq "upload 2" 200 "$(curl -s -o "$T/resp.json" -w '%{http_code}' -H "X-Api-Key: $KA" -F "db=@$T/dl.db" "$URL/v1/snapshots")"
assert_eq "s3 deleted, s2 (us) ignored" '{"created":0,"updated":0,"deleted":1,"unchanged":0,"ignored":0,"stale":0}' "$(cat "$T/resp.json")"
sqlite3 "$T/dl.db" "DROP TABLE _ferry_snapshot; DELETE FROM notes"
push "$KA" "$(up notes 0190000000000005 '{"id": 9, "body": "kept"}')"
assert_eq "without the marker nothing is deleted" 200 "$(curl -s -o "$T/resp.json" -w '%{http_code}' -H "X-Api-Key: $KA" -F "db=@$T/dl.db" "$URL/v1/snapshots")"
assert_eq "row 9 stays" 1 "$(store_sql "SELECT count(*) FROM notes WHERE id = 9")"
health_ok
