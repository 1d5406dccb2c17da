# The blob protocol (docs/blobs.md) from a plain HTTP client: an upload,
# a second upload of the same content as a no-op, HEAD and GET with ETag,
# Range and If-None-Match; then bad input, each with its documented status
# and code and nothing stored: a wrong hash, a file over blob_max_bytes
# (answered before the body), a Range outside the file, Content-Range
# forms that are not one, a wrong offset, gzip. ferryd keeps serving.
blob_contract
ferryd_migrate
KEY=$(make_key cam-1)
echo '{"blob_max_bytes": 4194304}' >"$T/settings.json"
FERRYD_ARGS="--config $T/settings.json"
start_ferryd

head -c 3000000 /dev/urandom >"$T/f"
H=$(blob_sha "$T/f")

note "an upload, then the same again"
assert_eq "first upload" 201 "$(blob_put "$H" "$KEY" "$T/f")"
assert_eq "its answer" "{\"sha256\":\"$H\",\"size\":3000000,\"created\":true}" \
    "$(cat "$T/blob.json")"
assert_eq "Upload-Offset" 3000000 "$(blob_hdr Upload-Offset)"
assert_eq "kept in 1 MiB parts" "3000000|3|3000000" "$(blob_held "$H")"
assert_eq "second upload" 200 "$(blob_put "$H" "$KEY" "$T/f")"
assert_eq "a no-op" "{\"sha256\":\"$H\",\"size\":3000000,\"created\":false}" \
    "$(cat "$T/blob.json")"
assert_eq "still the same parts" "3000000|3|3000000" "$(blob_held "$H")"

note "HEAD and GET"
assert_eq "HEAD" 200 "$(blob_head "$H" "$KEY")"
assert_eq "HEAD Content-Length" 3000000 "$(blob_hdr Content-Length)"
assert_eq "HEAD ETag" "\"$H\"" "$(blob_hdr ETag)"
assert_eq "HEAD Upload-Offset" 3000000 "$(blob_hdr Upload-Offset)"
assert_eq "GET" 200 "$(blob_get "$H" "$KEY" "$T/got")"
assert_eq "the bytes" "$H" "$(blob_sha "$T/got")"
assert_eq "Content-Type" application/octet-stream "$(blob_hdr Content-Type)"
assert_eq "Accept-Ranges" bytes "$(blob_hdr Accept-Ranges)"
assert_eq "ETag" "\"$H\"" "$(blob_hdr ETag)"
# Across a part boundary (1048576), and the last bytes.
assert_eq "Range" 206 "$(blob_get "$H" "$KEY" "$T/part" -H 'Range: bytes=1048570-1048589')"
assert_eq "Content-Range" "bytes 1048570-1048589/3000000" "$(blob_hdr Content-Range)"
assert_eq "the range's bytes" "$(tail -c +1048571 "$T/f" | head -c 20 | od -An -tx1)" \
    "$(od -An -tx1 "$T/part")"
assert_eq "suffix Range" 206 "$(blob_get "$H" "$KEY" "$T/part" -H 'Range: bytes=-7')"
assert_eq "the last bytes" "$(tail -c 7 "$T/f" | od -An -tx1)" "$(od -An -tx1 "$T/part")"
assert_eq "Range outside" 416 "$(blob_get "$H" "$KEY" "$T/part" -H 'Range: bytes=3000000-')"
assert_eq "416's Content-Range" "bytes */3000000" "$(blob_hdr Content-Range)"
grep -q '"code":"range_not_satisfiable"' "$T/part" || fail "416 code: $(cat "$T/part")"
assert_eq "If-None-Match" 304 "$(blob_get "$H" "$KEY" "$T/part" -H "If-None-Match: \"$H\"")"
assert_eq "GET of a blob not stored" 404 "$(blob_get "$(printf '%064d' 5)" "$KEY" "$T/part")"
grep -q '"code":"not_found"' "$T/part" || fail "404 code: $(cat "$T/part")"
assert_eq "without a key" 401 "$(blob_get "$H" "" "$T/part")"

note "a wrong hash: 422, nothing kept"
W=$(printf '%064d' 1)
assert_eq "wrong hash" 422 "$(blob_put "$W" "$KEY" "$T/f")"
grep -q '"code":"hash_mismatch"' "$T/blob.json" || fail "422 code: $(cat "$T/blob.json")"
assert_eq "Upload-Offset after a mismatch" 0 "$(blob_hdr Upload-Offset)"
assert_eq "nothing of it stored" "-1|0|0" "$(blob_held "$W")"
assert_eq "HEAD of it" 404 "$(blob_head "$W" "$KEY")"
assert_eq "HEAD's Upload-Offset" 0 "$(blob_hdr Upload-Offset)"

note "over blob_max_bytes: 413 before the body"
{
    printf 'PUT /v1/blobs/%s HTTP/1.1\r\nHost: t\r\nX-Api-Key: %s\r\n' "$W" "$KEY"
    printf 'Content-Length: 4194305\r\n\r\nonly a few bytes of it'
} | s2_raw >"$T/raw.out"
assert_eq "answered before the body" 413 "$(s2_status "$T/raw.out")"
grep -aq '"code":"body_too_large"' "$T/raw.out" || fail "413 code: $(tail -n 1 "$T/raw.out")"
printf 'x' >"$T/x"
assert_eq "a TOTAL over the limit" 413 \
    "$(blob_put "$W" "$KEY" "$T/x" -H 'Content-Range: bytes 0-0/4194305')"
assert_eq "nothing of it stored" "-1|0|0" "$(blob_held "$W")"

note "Content-Range forms that are not one: 400"
for cr in 'bytes 0-0/' 'bytes=0-0/1' 'bytes 1-0/5' 'bytes 0-0/0' 'bytes 0-5/5' \
    'bytes -1-0/5' 'bytes 0-0/*' 'items 0-0/5' 'bytes 0-0/5 x' 'bytes  0-0/5' \
    'bytes +0-0/5' 'bytes 0x0-0/5' 'bytes 00000000000000000000-0/5' \
    'bytes 0-0/99999999999999999999' 'bytes */5' 'bytes 0-1/5'; do
    assert_eq "Content-Range '$cr'" 400 \
        "$(blob_put "$W" "$KEY" "$T/x" -H "Content-Range: $cr")"
    grep -q '"code":"malformed"' "$T/blob.json" || fail "'$cr': $(cat "$T/blob.json")"
done
assert_eq "nothing of them stored" "-1|0|0" "$(blob_held "$W")"

note "a wrong offset: 409 with the offset held"
head -c 2000000 /dev/urandom >"$T/g"
G=$(blob_sha "$T/g")
head -c 1000 "$T/g" >"$T/g1"
assert_eq "a first part" 202 "$(blob_put "$G" "$KEY" "$T/g1" -H 'Content-Range: bytes 0-999/2000000')"
assert_eq "its answer" "{\"sha256\":\"$G\",\"received\":1000,\"size\":2000000}" \
    "$(cat "$T/blob.json")"
assert_eq "HEAD of a part" 404 "$(blob_head "$G" "$KEY")"
assert_eq "HEAD's Upload-Offset" 1000 "$(blob_hdr Upload-Offset)"
assert_eq "HEAD's Upload-Length" 2000000 "$(blob_hdr Upload-Length)"
head -c 500 "$T/g" >"$T/g2"
assert_eq "behind" 409 "$(blob_put "$G" "$KEY" "$T/g2" -H 'Content-Range: bytes 500-999/2000000')"
grep -q '"code":"upload_offset_mismatch"' "$T/blob.json" || fail "409: $(cat "$T/blob.json")"
assert_eq "409's Upload-Offset" 1000 "$(blob_hdr Upload-Offset)"
assert_eq "ahead" 409 "$(blob_put "$G" "$KEY" "$T/g2" -H 'Content-Range: bytes 2000-2499/2000000')"
assert_eq "another total" 409 "$(blob_put "$G" "$KEY" "$T/g2" -H 'Content-Range: bytes 1000-1499/3000000')"
assert_eq "the upload as it was" "1000|1|1000" "$(blob_held "$G")"
assert_eq "gzip" 415 "$(blob_put "$G" "$KEY" "$T/g2" -H 'Content-Encoding: gzip')"
assert_eq "the upload still as it was" "1000|1|1000" "$(blob_held "$G")"
tail -c +1001 "$T/g" >"$T/g3"
assert_eq "the rest" 201 "$(blob_put "$G" "$KEY" "$T/g3" -H 'Content-Range: bytes 1000-1999999/2000000')"
assert_eq "GET it" 200 "$(blob_get "$G" "$KEY" "$T/got")"
assert_eq "its bytes" "$G" "$(blob_sha "$T/got")"

note "an empty file"
: >"$T/empty"
E=$(blob_sha "$T/empty")
assert_eq "empty upload" 201 "$(blob_put "$E" "$KEY" "$T/empty")"
assert_eq "GET empty" 200 "$(blob_get "$E" "$KEY" "$T/got")"
assert_eq "no bytes" 0 "$(wc -c <"$T/got")"

health_ok
assert_eq "a push still goes" 200 "$(http_post /v1/push "$KEY" \
    "{\"changes\": [{\"seq\": 1, \"table\": \"shots\", \"op\": \"upsert\",
      \"hlc\": \"0190000000000000\", \"row\": {\"id\": 1, \"file\": \"$H\"}}]}")"
