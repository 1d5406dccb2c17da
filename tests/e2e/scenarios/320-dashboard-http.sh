# The dashboard over plain HTTP (curl), against a store fed by real agents:
# a page without a session redirects to the log-in form; a device key and a
# wrong key cannot log in (one message for both, after a delay); an admin
# key logs in with an HttpOnly, SameSite=Strict cookie and every page
# shows the real data, escaped, with the security headers; a form without
# the CSRF token or from another site is refused with nothing changed; an
# oversized or malformed form, a forged or expired session, and a Host
# that tries to inject a header are refused; log-out ends the session and
# a revoked admin key ends its sessions. No key reaches a page or the log.
. "$E2E_DIR/dashlib.sh"
FERRYD_ARGS="--config $T/ferryd.json"
cat >"$T/ferryd.json" <<'JSON'
{"dashboard_idle_timeout": 4, "dashboard_session_max": 3600}
JSON
dash_setup
J=$T/jar

# No session: every page is a 303 to the fixed log-in path.
for p in /dashboard /dashboard/devices /dashboard/streams /dashboard/charts /dashboard/keys; do
    assert_eq "$p without a session" 303 "$(dget "$p")"
    grep -qi '^location: /dashboard/login\s*$' "$T/page.hdr" || fail "$p: $(cat "$T/page.hdr")"
done
# A forged cookie of the right shape, and one of the wrong shape.
echo "127.0.0.1	FALSE	/dashboard	FALSE	0	ferry_session	$(printf '%064d' 0)" >"$T/forged"
assert_eq "forged session" 303 "$(dget /dashboard "$T/forged")"
assert_eq "malformed cookie" 303 "$(curl -s -o /dev/null -w '%{http_code}' -H 'Cookie: ferry_session=x%0d%0aSet-Cookie:%20a=b' "$URL/dashboard")"
# The redirect never echoes the request: a Host with CR LF cannot add a header.
curl -s -D "$T/inj.hdr" -o /dev/null -H 'Host: evil.example%0d%0aX-Injected: 1' "$URL/dashboard" || true
grep -qi '^x-injected' "$T/inj.hdr" && fail "header injected: $(cat "$T/inj.hdr")"
grep -qi '^location: /dashboard/login\s*$' "$T/inj.hdr" || fail "redirect: $(cat "$T/inj.hdr")"

# The log-in form and its headers.
assert_eq "log-in form" 200 "$(dget /dashboard/login)"
for h in "content-security-policy: default-src 'none'" "x-frame-options: DENY" \
    "cache-control: no-store" "referrer-policy: no-referrer" "frame-ancestors 'none'"; do
    grep -qi "$h" "$T/page.hdr" || fail "header $h missing: $(cat "$T/page.hdr")"
done
grep -q '<script' "$T/page.html" && fail "a script on the log-in page"

# Wrong, device and malformed keys: the same 401 and message, after a delay.
WRONG=fy_0123456789abcdef.$(printf '%064d' 7)
t0=$(date +%s%N)
for k in "$WRONG" "$KA" "nonsense"; do
    assert_eq "log-in with a non-admin key" 401 "$(dpost /dashboard/login "$J" "key=$k")"
    grep -q 'That key cannot log in here.' "$T/page.html" || fail "message: $(cat "$T/page.html")"
    grep -qi '^set-cookie' "$T/page.hdr" && fail "a cookie for a refused key"
done
t1=$(date +%s%N)
[ $(((t1 - t0) / 1000000)) -ge 2900 ] || fail "refused log-ins were not delayed: $(((t1 - t0) / 1000000)) ms for 3"
# Bad forms: an extra field, malformed encoding, oversized, wrong type.
assert_eq "extra field" 400 "$(dpost /dashboard/login "$J" "key=$ADMIN&x=1")"
assert_eq "bad encoding" 400 "$(dpost /dashboard/login "$J" "key=%zz")"
assert_eq "control char" 400 "$(dpost /dashboard/login "$J" "key=a%0d%0ab")"
assert_eq "duplicate field" 400 "$(dpost /dashboard/login "$J" "key=a&key=b")"
head -c 9000 /dev/zero | tr '\0' 'a' >"$T/big"
assert_eq "oversized form" 413 "$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/x-www-form-urlencoded' --data-binary "@$T/big" "$URL/dashboard/login")"
assert_eq "json body" 415 "$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' --data-binary '{"key":"x"}' "$URL/dashboard/login")"
assert_eq "a key in the URL is not a log-in" 401 "$(dpost "/dashboard/login?key=$ADMIN" "$J" "key=$WRONG")"
assert_eq "cross-site log-in" 403 "$(dpost /dashboard/login "$J" "key=$ADMIN" -H 'Origin: http://evil.example')"
assert_eq "no sessions yet" 0 "$(store_sql "SELECT count(*) FROM ${FT}dash_sessions")"

# The admin key logs in.
rm -f "$J"
assert_eq "admin log-in" 303 "$(dpost /dashboard/login "$J" "key=$ADMIN")"
c=$(grep -i '^set-cookie: ferry_session=' "$T/page.hdr") || fail "no cookie"
for a in HttpOnly SameSite=Strict Path=/dashboard; do
    echo "$c" | grep -q "$a" || fail "cookie without $a: $c"
done
echo "$c" | grep -q Secure && fail "Secure over plain HTTP: $c"
TOKEN=$(echo "$c" | sed 's/^[^=]*=\([0-9a-f]*\);.*/\1/')
assert_eq "token length" 64 "${#TOKEN}"
# Only the token's hash is stored.
assert_eq "sessions" 1 "$(store_sql "SELECT count(*) FROM ${FT}dash_sessions")"
assert_eq "the token is not stored" 0 "$(store_sql "SELECT count(*) FROM ${FT}dash_sessions WHERE token_hash = '$TOKEN'")"

# Every page with the real data, escaped, with the headers.
assert_eq overview 200 "$(dget /dashboard "$J")"
grep -q 'ankara</td><td class="n">3<' "$T/page.html" || fail "ankara's rows: $(cat "$T/page.html")"
grep -q 'istanbul</td><td class="n">1<' "$T/page.html" || fail "istanbul's rows"
grep -qi "content-security-policy" "$T/page.hdr" || fail "overview headers"
assert_eq devices 200 "$(dget /dashboard/devices "$J")"
grep -q '<td>pc-ankara</td>' "$T/page.html" || fail "device a: $(cat "$T/page.html")"
grep -q '<td>pc-istanbul</td>' "$T/page.html" || fail "device b"
assert_eq streams 200 "$(dget /dashboard/streams "$J")"
grep -q 'forms: failed' "$T/page.html" || fail "stream: $(cat "$T/page.html")"
grep -q 'said &lt;503&gt;' "$T/page.html" || fail "the error escaped"
grep -q '<503>' "$T/page.html" && fail "the error unescaped"
grep -q '>17<' "$T/page.html" || fail "the run's records"
assert_eq charts 200 "$(dget /dashboard/charts "$J")"
grep -q '<svg' "$T/page.html" || fail "no chart"
grep -q '<rect' "$T/page.html" || fail "no bars: $(cat "$T/page.html")"
assert_eq keys 200 "$(dget /dashboard/keys "$J")"
KA_ID=$(echo "$KA" | cut -c4-19)
grep -q "<code>$KA_ID</code>" "$T/page.html" || fail "key list"
CSRF=$(dcsrf)
assert_eq "csrf length" 64 "${#CSRF}"
assert_eq "style" 200 "$(dget /dashboard/style.css)"

# Cross-site posts: without the token, with a wrong one, from another origin.
n0=$(store_sql "SELECT count(*) FROM ${FT}api_keys")
assert_eq "create without csrf" 403 "$(dpost /dashboard/keys "$J" "device=evil&role=admin")"
assert_eq "create with a wrong csrf" 403 "$(dpost /dashboard/keys "$J" "csrf=$(printf '%064d' 1)&device=evil&role=admin")"
assert_eq "create from another site" 403 "$(dpost /dashboard/keys "$J" "csrf=$CSRF&device=evil&role=admin" -H 'Origin: https://evil.example')"
assert_eq "revoke without csrf" 403 "$(dpost /dashboard/keys/revoke "$J" "id=$KA_ID")"
assert_eq "logout without csrf" 403 "$(dpost /dashboard/logout "$J" "")"
assert_eq "nothing created" "$n0" "$(store_sql "SELECT count(*) FROM ${FT}api_keys")"
assert_eq "nothing revoked" 0 "$(store_sql "SELECT count(*) FROM ${FT}api_keys WHERE revoked_at IS NOT NULL")"
assert_eq "bad device name" 400 "$(dpost /dashboard/keys "$J" "csrf=$CSRF&device=a%20b&role=device")"
assert_eq "bad role" 400 "$(dpost /dashboard/keys "$J" "csrf=$CSRF&device=x&role=root")"
assert_eq "bad key id" 400 "$(dpost /dashboard/keys/revoke "$J" "csrf=$CSRF&id=../x")"
assert_eq "unknown key id" 404 "$(dpost /dashboard/keys/revoke "$J" "csrf=$CSRF&id=0123456789abcdef")"

# Create a key (the secret once), use it, revoke it.
assert_eq "create" 200 "$(dpost /dashboard/keys "$J" "csrf=$CSRF&device=pc-izmir&region=izmir&role=device" -H "Origin: $URL")"
NEW=$(sed -n 's/.*id="secret">\(fy_[0-9a-f.]*\)<.*/\1/p' "$T/page.html")
[ -n "$NEW" ] || fail "no secret shown: $(cat "$T/page.html")"
assert_eq "the new key works" 200 "$(curl -s -o /dev/null -w '%{http_code}' -H "X-Api-Key: $NEW" "$URL/v1/contract")"
assert_eq "keys page after" 200 "$(dget /dashboard/keys "$J")"
grep -q "${NEW#fy_}" "$T/page.html" && fail "the secret is on the keys page"
NEW_ID=$(echo "$NEW" | cut -c4-19)
assert_eq "revoke" 303 "$(dpost /dashboard/keys/revoke "$J" "csrf=$CSRF&id=$NEW_ID")"
assert_eq "the revoked key fails" 401 "$(curl -s -o /dev/null -w '%{http_code}' -H "X-Api-Key: $NEW" "$URL/v1/contract")"

# Idle time-out (4 s here): the session ends, and housekeeping removes it.
sleep 6
assert_eq "idle session" 303 "$(dget /dashboard "$J")"

# Log-out: the old cookie no longer works.
dlogin "$J" "$ADMIN"
cp "$J" "$T/old-jar"
assert_eq "overview again" 200 "$(dget /dashboard "$J")"
CSRF=$(dcsrf)
assert_eq "log-out" 303 "$(dpost /dashboard/logout "$J" "csrf=$CSRF")"
grep -qi '^set-cookie: ferry_session=;' "$T/page.hdr" || fail "cookie not cleared"
assert_eq "old cookie after log-out" 303 "$(dget /dashboard "$T/old-jar")"

# A revoked admin key ends its sessions, whoever revoked it.
dlogin "$J" "$ADMIN"
ADMIN2=$(make_key ops2 --admin)
dlogin "$T/jar2" "$ADMIN2"
assert_eq "second admin" 200 "$(dget /dashboard/keys "$T/jar2")"
CSRF2=$(dcsrf)
ADMIN_ID=$(echo "$ADMIN" | cut -c4-19)
assert_eq "revoke the first admin" 303 "$(dpost /dashboard/keys/revoke "$T/jar2" "csrf=$CSRF2&id=$ADMIN_ID")"
assert_eq "revoked admin's session" 303 "$(dget /dashboard "$J")"
assert_eq "revoked admin cannot log in" 401 "$(dpost /dashboard/login "$T/jar3" "key=$ADMIN")"

# No key text in the log.
for k in "$ADMIN" "$ADMIN2" "$KA" "$NEW" "$WRONG" "$TOKEN"; do
    grep -qF "${k#fy_????????????????.}" "$T/ferryd.log" && fail "a secret in the log"
done
stop_ferryd
