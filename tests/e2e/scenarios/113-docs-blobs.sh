# docs/blobs.md's commands, as written, against a real ferryd: the short
# tour (upload, HEAD, download), a part that answers 202, resuming from the
# offset HEAD gives, and the downloads with Range and If-None-Match. Each
# answer is checked; the doc's placeholders KEY and URL come from here.
write_contract "$T/contract.json" <<'JSON'
{"version": 1, "tables": [{"name": "screenshots",
  "columns": [{"name": "id", "type": "bigint", "not_null": true},
              {"name": "taken_at", "type": "timestamptz"},
              {"name": "image", "type": "text"}],
  "primary_key": ["id"], "blob_columns": ["image"]}]}
JSON
ferryd_migrate
KEY=$(make_key cam-1)
start_ferryd
export KEY URL
cd "$T"

# doc_sh NAME: the doc's block NAME run by sh in $T (its KEY= and URL=
# lines left out), its output in $T/doc.out
doc_sh() {
    docs_block docs/blobs.md "$1" | grep -v '^KEY=\|^URL=' >"$T/$1.sh"
    [ -s "$T/$1.sh" ] || fail "no example '$1' in docs/blobs.md"
    sh -eu "$T/$1.sh" >"$T/doc.out" 2>"$T/doc.err" ||
        fail "$1: $(cat "$T/doc.out" "$T/doc.err")"
}

note "the short tour"
head -c 48213 /dev/urandom >shot.png
cp shot.png shot.orig
doc_sh blobs-short
H=$(blob_sha shot.orig)
grep -q "{\"sha256\":\"$H\",\"size\":48213,\"created\":true}" doc.out ||
    fail "upload: $(cat doc.out)"
grep -q "^Upload-Offset: 48213" doc.out || fail "HEAD: $(cat doc.out)"
assert_eq "the download" "$H" "$(blob_sha back.png)"

note "a part: 202"
head -c 5000000 /dev/urandom >big.bin
export H=$(blob_sha big.bin)
doc_sh blobs-part
assert_eq "its answer" "{\"sha256\":\"$H\",\"received\":1048576,\"size\":5000000}" \
    "$(cat doc.out)"
doc_sh blobs-head
grep -q "^HTTP/1.1 404" doc.out || fail "HEAD of a part: $(cat doc.out)"
grep -q "^Upload-Offset: 1048576" doc.out || fail "HEAD's offset: $(cat doc.out)"
grep -q "^Upload-Length: 5000000" doc.out || fail "HEAD's length: $(cat doc.out)"

note "resume from the offset in the doc"
head -c 5000000 /dev/urandom >video.mp4
export H=$(blob_sha video.mp4)
head -c 2621440 video.mp4 >held
assert_eq "the part held" 202 "$(blob_put "$H" "$KEY" held -H 'Content-Range: bytes 0-2621439/5000000')"
doc_sh blobs-resume
assert_eq "completed" "{\"sha256\":\"$H\",\"size\":5000000,\"created\":true}" "$(cat doc.out)"

note "downloads"
rm -f shot.png
doc_sh blobs-get
assert_eq "GET" "$(blob_sha video.mp4)" "$(blob_sha shot.png)"
head -c 100 video.mp4 >want.bin
# The Range and If-None-Match answers went to doc.out, one after the other:
# 100 bytes, then nothing (304).
cmp -s want.bin doc.out || fail "Range 0-99 then 304: $(wc -c <doc.out) bytes"
