# shellcheck shell=sh
# Helpers of the auth scenarios (370-379): a store with two regional
# tables, every kind of key (valid, revoked, expired, rotated, admin, of
# another region or device), data of region r1 that region r2 must never
# see, a blob, a stream run with a long lease and a dashboard session.

# auth_contract: notes and shots (a blob column), both region-scoped for
# writing and reading.
auth_contract() {
    write_contract "$T/contract.json" <<'JSON'
{"version": 1, "tables": [
 {"name": "notes", "columns": [
   {"name": "id", "type": "bigint", "not_null": true},
   {"name": "region", "type": "text"},
   {"name": "body", "type": "text"}],
  "primary_key": ["id"], "region_column": "region", "read": "region"},
 {"name": "shots", "columns": [
   {"name": "id", "type": "bigint", "not_null": true},
   {"name": "region", "type": "text"},
   {"name": "file", "type": "text"}],
  "primary_key": ["id"], "region_column": "region", "read": "region",
  "blob_columns": ["file"]}]}
JSON
}

# auth_req METHOD PATH KEY [CURL ARGS...] -> status; body in $T/resp.json
auth_req() {
    _m=$1 _p=$2 _k=$3
    shift 3
    curl -s -o "$T/resp.json" -w '%{http_code}' -X "$_m" \
        ${_k:+-H "X-Api-Key: $_k"} "$@" "$URL$_p"
}

# auth_json METHOD PATH KEY JSON -> status
auth_json() {
    auth_req "$1" "$2" "$3" -H 'Content-Type: application/json' --data-binary "$4"
}

# auth_setup: migrate, keys, ferryd, data. Sets KA (pc-a, r1), KB (pc-b,
# r2), KC (pc-c, r1), ADMIN, KREV, KEXP, KROT_OLD, KROT, SPARE_ID, BLOB_SHA,
# RUN, SESSION, CSRF; writes $T/creds.json for auth_matrix.py.
auth_setup() {
    auth_contract
    ferryd_migrate
    KA=$(make_key pc-a --region r1)
    KB=$(make_key pc-b --region r2)
    KC=$(make_key pc-c --region r1)
    ADMIN=$(make_key ops --admin)
    KREV=$(make_key pc-rev --region r1)
    "$FERRYD" --store "$STORE_URL" keys revoke "$(echo "$KREV" | cut -c4-19)" \
        >/dev/null || fail "revoke"
    KEXP=$(make_key pc-exp --region r1 --expires 1s)
    KROT_OLD=$(make_key pc-rot --region r1)
    KROT=$("$FERRYD" --store "$STORE_URL" keys rotate \
        "$(echo "$KROT_OLD" | cut -c4-19)" --overlap 0s 2>>"$T/keys.err") ||
        fail "rotate: $(cat "$T/keys.err")"
    SPARE=$(make_key spare --region r2)
    SPARE_ID=$(echo "$SPARE" | cut -c4-19)
    start_ferryd
    assert_eq "r1 note" 200 "$(auth_json POST /v1/tables/notes/rows "$KA" \
        '{"id": 1, "region": "r1", "body": "R1PRIVATE note"}')"
    assert_eq "r2 note" 200 "$(auth_json POST /v1/tables/notes/rows "$KB" \
        '{"id": 2, "region": "r2", "body": "r2 note"}')"
    printf 'R1PRIVATE blob of pc-a\n' >"$T/blob.bin"
    echo application/octet-stream >"$T/blob.bin.type"
    BLOB_SHA=$(sha256sum "$T/blob.bin" | cut -c1-64)
    assert_eq "blob" 201 "$(auth_req PUT "/v1/blobs/$BLOB_SHA" "$KA" -T "$T/blob.bin")"
    assert_eq "r1 shot" 200 "$(auth_json POST /v1/tables/shots/rows "$KA" \
        "{\"id\": 1, \"region\": \"r1\", \"file\": \"$BLOB_SHA\"}")"
    assert_eq "run" 201 "$(auth_json POST /v1/streams/forms/runs "$KA" \
        '{"lease_seconds": 86400}')"
    RUN=$(sed -n 's/^{"run": *\([0-9]*\).*/\1/p' "$T/resp.json")
    [ -n "$RUN" ] || fail "no run id: $(cat "$T/resp.json")"
    # A dashboard session of the admin key, and its CSRF token.
    _s=$(curl -s -o /dev/null -D "$T/login.hdr" -w '%{http_code}' \
        -H 'Content-Type: application/x-www-form-urlencoded' \
        --data-binary "key=$ADMIN" "$URL/dashboard/login")
    assert_eq "log-in" 303 "$_s"
    SESSION=$(sed -n 's/^Set-Cookie: ferry_session=\([0-9a-f]*\);.*/\1/Ip' "$T/login.hdr")
    [ -n "$SESSION" ] || fail "no session cookie"
    curl -s -b "ferry_session=$SESSION" "$URL/dashboard/keys" >"$T/keys.html"
    CSRF=$(sed -n 's/.*name="csrf" value="\([0-9a-f]*\)".*/\1/p' "$T/keys.html" | head -n 1)
    [ -n "$CSRF" ] || fail "no CSRF token"
    auth_bodies
    # The expired key has had its second.
    _i=0
    while [ "$(auth_req GET /v1/contract "$KEXP")" != 401 ]; do
        _i=$((_i + 1))
        [ $_i -lt 150 ] || fail "the key made with --expires 1s still works"
        sleep 0.2
    done
    auth_creds
}

# The request bodies the table names with @: a snapshot file holding r1's
# row 1 changed, and a form linking a new file to shots row 1.
auth_bodies() {
    rm -f "$T/snap.db"
    sqlite3 "$T/snap.db" "CREATE TABLE notes (id INTEGER PRIMARY KEY,
        region TEXT, body TEXT); INSERT INTO notes VALUES (1, 'r1',
        'overwritten by a snapshot')" || fail "snapshot file"
    echo application/x-sqlite3 >"$T/snap.db.type"
    printf 'a file for shot 1\n' >"$T/attach.bin"
    _b=ferryauthboundary
    {
        printf -- '--%s\r\nContent-Disposition: form-data; name="id"\r\n\r\n1\r\n' $_b
        printf -- '--%s\r\nContent-Disposition: form-data; name="f"; filename="a.bin"\r\n' $_b
        printf 'Content-Type: application/octet-stream\r\n\r\n'
        cat "$T/attach.bin"
        printf '\r\n--%s--\r\n' $_b
    } >"$T/attach.form"
    echo "multipart/form-data; boundary=$_b" >"$T/attach.form.type"
}

auth_creds() {
    python3 - "$T/creds.json" <<PY || fail "creds.json"
import json, os, sys
k = lambda v: os.environ.get(v, "")
json.dump({
    "port": int("$PORT"), "store_kind": "$STORE", "store_url": "$STORE_URL",
    "session": "$SESSION", "files": "$T",
    "keys": {"owner": "$KA", "other_region": "$KB", "other_device": "$KC",
             "admin": "$ADMIN", "revoked": "$KREV", "expired": "$KEXP",
             "rotated": "$KROT_OLD",
             "malformed": "fy_$(echo "$KA" | cut -c4-19).not-a-secret",
             "unknown": "fy_0123456789abcdef.$(printf '%064d' 42)",
             "wrong_secret": "$(echo "$KA" | cut -c1-20)$(printf '%064d' 7)"},
    "vars": {"BLOB": "$BLOB_SHA", "RUN": "$RUN", "CSRF": "$CSRF",
             "SPARE_ID": "$SPARE_ID"}}, open(sys.argv[1], "w"))
PY
}

# auth_secrets: every secret the scenario used, one a line: the full key
# and its secret part alone (the 64 hex digits after the dot), and the
# session token.
auth_secrets() {
    for _k in "$KA" "$KB" "$KC" "$ADMIN" "$KREV" "$KEXP" "$KROT_OLD" "$KROT" \
        "$SPARE"; do
        [ -n "$_k" ] || continue
        echo "$_k"
        echo "$_k" | cut -c21-
    done
    [ -z "${SESSION:-}" ] || echo "$SESSION"
}

# auth_grep_secrets WHAT FILE...: none of the secrets is in any FILE
auth_grep_secrets() {
    _what=$1
    shift
    auth_secrets >"$T/secrets.txt"
    [ "$(wc -l <"$T/secrets.txt")" -ge 18 ] || fail "too few secrets to look for"
    _hit=$(grep -lFf "$T/secrets.txt" "$@" 2>/dev/null | head -n 3)
    # shellcheck disable=SC2086 # _hit: up to three file names
    [ -z "$_hit" ] || fail "$_what: a secret in $_hit: $(grep -oFf "$T/secrets.txt" $_hit | head -n 2)"
}
