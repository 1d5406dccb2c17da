# A row never reaches the store before its file: a push whose blob column
# names a file ferryd does not hold complete (not uploaded, or only part of
# it) is refused with 422 and the per-change code missing_blob naming the
# table, column and hash, and nothing of the batch is stored. Once the file
# is uploaded the same push goes through. NULL and deletes need no file.
write_contract "$T/contract.json" <<'JSON'
{"version": 1, "tables": [{"name": "shots",
  "columns": [{"name": "id", "type": "bigint", "not_null": true},
              {"name": "file", "type": "text"},
              {"name": "thumb", "type": "text"}],
  "primary_key": ["id"], "blob_columns": ["file", "thumb"]}]}
JSON
ferryd_migrate
KEY=$(make_key cam-1)
start_ferryd

head -c 2500000 /dev/urandom >"$T/f"
F=$(blob_sha "$T/f")
printf 'a thumbnail' >"$T/t"
TH=$(blob_sha "$T/t")
assert_eq "the thumbnail" 201 "$(blob_put "$TH" "$KEY" "$T/t")"

S=0
push() { # CHANGES -> status; the answer in $T/resp.json
    S=$((S + 1))
    http_post /v1/push "$KEY" "{\"changes\": [$1]}"
}
row() { # SEQ ID FILE THUMB
    echo "{\"seq\": $1, \"table\": \"shots\", \"op\": \"upsert\",
      \"hlc\": \"01900000000000$(printf %02d "$1")\",
      \"row\": {\"id\": $2, \"file\": $3, \"thumb\": $4}}"
}
code_of() { # the first per-change code and message of the answer
    python3 -c 'import json, sys
c = json.load(open(sys.argv[1]))["error"]["changes"][0]
print(c["seq"], c["code"], c["message"])' "$T/resp.json"
}

note "a file not uploaded"
assert_eq "refused" 422 "$(push "$(row 1 1 "null" "\"$TH\""), $(row 2 2 "\"$F\"" "\"$TH\"")")"
assert_eq "the change and its code" \
    "2 missing_blob table 'shots': column 'file' names blob $F, which the store does not hold: upload it first" \
    "$(code_of)"
assert_eq "nothing of the batch stored" 0 "$(store_sql 'SELECT count(*) FROM shots')"

note "a file only partly uploaded"
head -c 1000000 "$T/f" >"$T/f1"
assert_eq "a part" 202 "$(blob_put "$F" "$KEY" "$T/f1" -H 'Content-Range: bytes 0-999999/2500000')"
assert_eq "still refused" 422 "$(push "$(row 1 1 "null" "\"$TH\""), $(row 2 2 "\"$F\"" "\"$TH\"")")"
assert_eq "its code" missing_blob "$(code_of | cut -d' ' -f2)"

note "the file complete: the same push goes"
tail -c +1000001 "$T/f" >"$T/f2"
assert_eq "the rest" 201 "$(blob_put "$F" "$KEY" "$T/f2" -H 'Content-Range: bytes 1000000-2499999/2500000')"
assert_eq "accepted" 200 "$(push "$(row 1 1 "null" "\"$TH\""), $(row 2 2 "\"$F\"" "\"$TH\"")")"
assert_eq "stored" "1||$TH 2|$F|$TH" \
    "$(store_sql 'SELECT id, file, thumb FROM shots ORDER BY id' | tr '\n' ' ' | sed 's/ $//')"

note "a delete names no file"
assert_eq "delete" 200 "$(push "{\"seq\": 3, \"table\": \"shots\", \"op\": \"delete\",
    \"hlc\": \"0190000000000003\", \"row\": {\"id\": 2}}")"
assert_eq "deleted" 1 "$(store_sql 'SELECT count(*) FROM shots')"
health_ok
