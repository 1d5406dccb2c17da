# POST /v1/tables/{table}/files/{column}: a form with one file and the
# row's key (how a script uploads an MP3 for its report) stores the file as
# a blob and sets the row's blob column to its hash; through an alias with
# fixed parameters too. Every bad form gets its documented status and code,
# stores nothing, changes no row, and ferryd keeps serving.
write_contract "$T/contract.json" <<'JSON'
{"version": 1, "tables": [
 {"name": "reports", "columns": [
   {"name": "video_id", "type": "text", "not_null": true},
   {"name": "n", "type": "bigint", "not_null": true},
   {"name": "title", "type": "text"},
   {"name": "audio_sha256", "type": "text"}],
  "primary_key": ["video_id", "n"], "blob_columns": ["audio_sha256"]}]}
JSON
ferryd_migrate
KEY=$(make_key nas)
cat >"$T/settings.json" <<'JSON'
{"aliases": [{"method": "POST", "path": "/ingest/audio",
  "route": "POST /v1/tables/{table}/files/{column}",
  "params": {"table": "reports", "column": "audio_sha256"},
  "auth_header": "X-Ingest-Token"}]}
JSON
FERRYD_ARGS="--config $T/settings.json"
start_ferryd

code() { sed -n 's/.*"code":"\([a-z_]*\)".*/\1/p' "$T/resp.json"; }
# form PATH HEADER CURL-ARGS... -> status; the answer in $T/resp.json
form() {
    _p=$1 _h=$2
    shift 2
    curl -s -o "$T/resp.json" -w '%{http_code}' -H "$_h" "$@" "$URL$_p"
}
audio() { store_sql "SELECT coalesce(audio_sha256, 'null') FROM reports WHERE video_id = 'v1'"; }

assert_eq "the report" 200 "$(curl -s -o "$T/resp.json" -w '%{http_code}' \
    -H "X-Api-Key: $KEY" -H 'Content-Type: application/json' \
    --data-binary '{"video_id": "v1", "n": 7, "title": "first"}' \
    "$URL/v1/tables/reports/rows")"
head -c 200000 /dev/urandom >"$T/a.mp3"
SHA=$(sha256sum "$T/a.mp3" | cut -c1-64)
P=/v1/tables/reports/files/audio_sha256

assert_eq "upload and link" 200 "$(form $P "X-Api-Key: $KEY" \
    -F video_id=v1 -F n=7 -F "audio=@$T/a.mp3;type=audio/mpeg")"
python3 - "$T/resp.json" "$SHA" <<'PY' || fail "answer: $(cat "$T/resp.json")"
import json, sys
a = json.load(open(sys.argv[1]))
assert a["sha256"] == sys.argv[2] and a["size"] == 200000, a
assert a["result"] == "updated" and a["blob_created"] is True, a
PY
assert_eq "the row links the file" "$SHA" "$(audio)"
assert_eq "the title is kept" first "$(store_sql "SELECT title FROM reports WHERE video_id = 'v1'")"
curl -s -H "X-Api-Key: $KEY" -o "$T/back.mp3" "$URL/v1/blobs/$SHA"
cmp -s "$T/back.mp3" "$T/a.mp3" || fail "the blob is not the file"

# Through the alias, its own header, any file field name; the same file
# again is stored once.
assert_eq "the alias" 200 "$(form /ingest/audio "X-Ingest-Token: $KEY" \
    -F video_id=v1 -F n=7 -F "file=@$T/a.mp3")"
grep -q '"blob_created":false' "$T/resp.json" || fail "second upload: $(cat "$T/resp.json")"

# Bad forms: status, code, nothing changed.
head -c 1000 /dev/urandom >"$T/b.mp3"
bad() { # WHAT STATUS CODE CURL-ARGS...
    _w=$1 _s=$2 _c=$3
    shift 3
    assert_eq "$_w: status" "$_s" "$(form "$@")"
    assert_eq "$_w: code" "$_c" "$(code)"
    assert_eq "$_w: the row is unchanged" "$SHA" "$(audio)"
}
bad "unknown table" 404 unknown_table /v1/tables/nope/files/audio_sha256 \
    "X-Api-Key: $KEY" -F video_id=v1 -F n=7 -F "a=@$T/b.mp3"
bad "not a blob column" 422 unknown_column /v1/tables/reports/files/title \
    "X-Api-Key: $KEY" -F video_id=v1 -F n=7 -F "a=@$T/b.mp3"
bad "a key field missing" 422 missing_key $P "X-Api-Key: $KEY" \
    -F video_id=v1 -F "a=@$T/b.mp3"
bad "a key value that does not fit" 422 invalid_value $P "X-Api-Key: $KEY" \
    -F video_id=v1 -F n=seven -F "a=@$T/b.mp3"
bad "no file" 400 malformed $P "X-Api-Key: $KEY" -F video_id=v1 -F n=7
bad "two files" 400 malformed $P "X-Api-Key: $KEY" -F video_id=v1 -F n=7 \
    -F "a=@$T/b.mp3" -F "b=@$T/b.mp3"
bad "no such row" 404 row_not_found $P "X-Api-Key: $KEY" -F video_id=v2 \
    -F n=7 -F "a=@$T/b.mp3"
bad "wrong token" 401 unauthorized /ingest/audio "X-Ingest-Token: fy_nope" \
    -F video_id=v1 -F n=7 -F "a=@$T/b.mp3"
bad "not a form" 415 unsupported_media_type $P "X-Api-Key: $KEY" \
    -H 'Content-Type: application/octet-stream' --data-binary "@$T/b.mp3"
# A form cut short: the closing boundary never comes.
printf -- '--XyZ\r\nContent-Disposition: form-data; name="video_id"\r\n\r\nv1\r\n--XyZ\r\nContent-Disposition: form-data; name="n"\r\n\r\n7\r\n--XyZ\r\nContent-Disposition: form-data; name="a"; filename="x"\r\n\r\nID3 cut' >"$T/cut"
bad "a truncated form" 400 malformed $P "X-Api-Key: $KEY" \
    -H 'Content-Type: multipart/form-data; boundary=XyZ' --data-binary "@$T/cut"
B=$(sha256sum "$T/b.mp3" | cut -c1-64)
assert_eq "no blob of the refused uploads" 404 "$(curl -s -o /dev/null \
    -w '%{http_code}' -H "X-Api-Key: $KEY" "$URL/v1/blobs/$B")"
health_ok || fail "ferryd stopped serving"
stop_ferryd
