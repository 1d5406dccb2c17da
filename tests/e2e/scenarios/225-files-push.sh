# Files named by rows, as the monitoring agent's screenshots: `ferry
# contract` adds the blob column the app's table lacks; `ferry push` uploads
# each file before its row and sends its SHA-256 in the row, and its second
# line says per table what went and how many files were uploaded; a NULL
# path sends NULL; a deleted file, a directory, or a path that is no text
# parks the row with the reason (`ferry dead list`) and blocks nothing; a
# file already stored is not read or sent again, even once deleted; the
# same content under another path is not stored twice.
files_setup a pc-1
mkdir -p "$T/shots" "$T/a/rel"
head -c 300000 /dev/urandom >"$T/shots/1.png"
head -c 5000 /dev/urandom >"$T/a/rel/2.png"
S1=$(files_sha "$T/shots/1.png")
S2=$(files_sha "$T/a/rel/2.png")

python3 - "$T/contract.json" <<'PY' || fail "contract: $(cat "$T/contract.json")"
import json, sys
t = [t for t in json.load(open(sys.argv[1]))["tables"] if t["name"] == "screenshots"][0]
assert t["blob_columns"] == ["image_sha256"], t
assert {"name": "image_sha256", "type": "text", "not_null": False} in t["columns"], t
PY

app_sql "$APP" "INSERT INTO heartbeat (ts) VALUES ('t1'), ('t2'), ('t3');
  INSERT INTO screenshots VALUES (1, 'a', '$T/shots/1.png'),
    (2, 'b', 'rel/2.png'), (3, 'c', NULL), (4, 'd', '$T/shots/gone.png'),
    (5, 'e', '$T/shots'), (6, 'f', x'00ff')"
rc=0
ferry_in a push >"$T/push.out" 2>>"$T/agent.log" || rc=$?
assert_eq "push exit" 0 "$rc"
sed -n 2p "$T/push.out" >"$T/line2"
assert_eq "per-table line" "pushed 3 heartbeat, 3 screenshots; uploaded 2 files (297.9 KiB)" "$(cat "$T/line2")"
grep -q "^pushed 6 changes in 1 batches (acked seq 6, 3 rejected, 0 retries); 3 changes parked" "$T/push.out" ||
    fail "summary: $(cat "$T/push.out")"

assert_eq "rows with their hashes" "1|$S1
2|$S2
3|" "$(store_sql "SELECT id, image_sha256 FROM screenshots ORDER BY id")"
files_get "$S1" "$T/got1"
cmp -s "$T/got1" "$T/shots/1.png" || fail "blob 1 differs"
assert_eq "blob 1's hash" "$S1" "$(files_sha "$T/got1")"
files_get "$S2" "$T/got2"
cmp -s "$T/got2" "$T/a/rel/2.png" || fail "blob 2 differs"

ferry_in a dead list >"$T/dead.out" 2>>"$T/agent.log" || fail "dead list"
grep -q "file_missing.*file '$T/shots/gone.png' does not exist" "$T/dead.out" ||
    fail "dead list, missing: $(cat "$T/dead.out")"
grep -q "file_not_regular.*'$T/shots' is not a regular file" "$T/dead.out" ||
    fail "dead list, directory: $(cat "$T/dead.out")"
grep -q "bad_path.*column 'path' of table 'screenshots' holds a blob" "$T/dead.out" ||
    fail "dead list, blob path: $(cat "$T/dead.out")"

# Stored once: an update sends the row with the cached hash, no upload;
# the file deleted after it was stored still names the stored blob.
rm "$T/shots/1.png"
app_sql "$APP" "UPDATE screenshots SET taken = 'a2' WHERE id = 1"
ferry_in a push >"$T/push2.out" 2>>"$T/agent.log" || fail "push 2"
assert_eq "second push line" "pushed 1 screenshots" "$(sed -n 2p "$T/push2.out")"
assert_eq "row 1 updated, same hash" "a2|$S1" \
    "$(store_sql "SELECT taken, image_sha256 FROM screenshots WHERE id = 1")"

# The same bytes under another path: sent, not stored twice.
cp "$T/a/rel/2.png" "$T/shots/copy.png"
app_sql "$APP" "INSERT INTO screenshots VALUES (7, 'g', '$T/shots/copy.png')"
ferry_in a push >"$T/push3.out" 2>>"$T/agent.log" || fail "push 3"
assert_eq "third push line" "pushed 1 screenshots; 1 file already stored" \
    "$(sed -n 2p "$T/push3.out")"
assert_eq "row 7" "$S2" "$(store_sql "SELECT image_sha256 FROM screenshots WHERE id = 7")"

# An empty file is a file too.
: >"$T/shots/empty.png"
app_sql "$APP" "INSERT INTO screenshots VALUES (8, 'h', '$T/shots/empty.png')"
ferry_in a push >"$T/push4.out" 2>>"$T/agent.log" || fail "push 4"
assert_eq "fourth push line" "pushed 1 screenshots; uploaded 1 file (0 bytes)" \
    "$(sed -n 2p "$T/push4.out")"
EMPTY=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
assert_eq "row 8" "$EMPTY" "$(store_sql "SELECT image_sha256 FROM screenshots WHERE id = 8")"
assert_eq "the empty blob" 200 "$(files_blob_status "$EMPTY")"

ferry_in a status >"$T/status.out" 2>>"$T/agent.log" || fail status
grep -q "^uploads       0 files not stored at the server yet$" "$T/status.out" ||
    fail "status: $(cat "$T/status.out")"
assert_eq "cache rows" "4" "$(app_sql "$APP" "SELECT count(*) FROM _ferry_blobs WHERE state = 'done'")"

# Declarations checked: twice the same table, a path column the table lacks.
files_declare a '[{"table": "screenshots", "path_column": "path", "blob_column": "h"},
  {"table": "SCREENSHOTS", "path_column": "p", "blob_column": "h2"}]'
rc=0
ferry_in a status >/dev/null 2>"$T/err1" || rc=$?
assert_eq "a table declared twice: exit" 3 "$rc"
grep -q "ferry.files declares table 'SCREENSHOTS' twice" "$T/err1" || fail "message: $(cat "$T/err1")"
files_declare a '[{"table": "screenshots", "path_column": "file", "blob_column": "h"}]'
rc=0
ferry_in a contract >/dev/null 2>"$T/err2" || rc=$?
assert_eq "a path column the table lacks: exit" 2 "$rc"
grep -q "table 'screenshots' has no column 'file'" "$T/err2" || fail "message: $(cat "$T/err2")"
files_declare a '[{"table": "screenshots", "path_column": "path", "blob_column": "path"}]'
rc=0
ferry_in a status >/dev/null 2>"$T/err3" || rc=$?
assert_eq "path and blob column the same: exit" 3 "$rc"
grep -q "path_column and blob_column must be two columns" "$T/err3" || fail "message: $(cat "$T/err3")"
