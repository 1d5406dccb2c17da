# ferryd over https with a test CA made here with the openssl CLI: bad
# certificate and key files refused at start-up (exit 3, nothing listens);
# a push from one device and a pull on another through TLS; plain http to
# the https port refused; an agent with the wrong CA, or none, refused with
# "certificate verify failed" (exit 3, its outbox kept), and the tracked
# runs client (the C API under `ferry runs`) verifying with ferry.ca_file.
# A PostgreSQL cluster of its own: a pull right after a push must not wait
# on other scenarios' transactions (the pull horizon is cluster-wide).
own_pg
command -v openssl >/dev/null || fail "the openssl command is needed (Debian package openssl)"
P=$T/pki
mkdir -p "$P"
# make_ca NAME: a self-signed CA, $P/NAME.pem and $P/NAME.key
make_ca() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -days 2 -subj "/CN=ferry test $1" -keyout "$P/$1.key" \
        -out "$P/$1.pem" 2>>"$T/openssl.log" || fail "openssl: CA $1"
}
make_ca ca
make_ca otherca
# The server's certificate: 127.0.0.1 and localhost, signed by ca.
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj "/CN=127.0.0.1" -keyout "$P/server.key" -out "$P/server.csr" \
    2>>"$T/openssl.log" || fail "openssl: server key"
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$P/san.ext"
openssl x509 -req -in "$P/server.csr" -CA "$P/ca.pem" -CAkey "$P/ca.key" \
    -CAcreateserial -days 2 -extfile "$P/san.ext" -out "$P/server.pem" \
    2>>"$T/openssl.log" || fail "openssl: server certificate"

items_contract
ferryd_migrate
KA=$(make_key dev-a)
KB=$(make_key dev-b)

# serve_refused WHY ARGS...: serve exits 3 at start-up saying WHY
serve_refused() {
    _why=$1
    shift
    _rc=0
    timeout 20 "$FERRYD" --store "$STORE_URL" --contract "$T/contract.json" \
        serve --listen 127.0.0.1:0 "$@" >"$T/refused.out" 2>"$T/refused.err" || _rc=$?
    assert_eq "serve $* exit" 3 "$_rc"
    grep -q "$_why" "$T/refused.err" || fail "serve $*: no '$_why' in: $(cat "$T/refused.err")"
    [ ! -s "$T/refused.out" ] || fail "serve $* listened: $(cat "$T/refused.out")"
}
printf 'not a certificate\n' >"$P/junk.pem"
: >"$P/empty.pem"
serve_refused "tls_cert '$P/missing.pem': No such file" \
    --tls-cert "$P/missing.pem" --tls-key "$P/server.key"
serve_refused "tls_key '$P/missing.key': No such file" \
    --tls-cert "$P/server.pem" --tls-key "$P/missing.key"
serve_refused "holds no PEM certificate" --tls-cert "$P/junk.pem" --tls-key "$P/server.key"
serve_refused "holds no PEM certificate" --tls-cert "$P/empty.pem" --tls-key "$P/server.key"
serve_refused "holds no unencrypted PEM private key" \
    --tls-cert "$P/server.pem" --tls-key "$P/server.pem"
serve_refused "is not the key of the certificate" \
    --tls-cert "$P/server.pem" --tls-key "$P/otherca.key"
serve_refused "https needs both tls_cert and tls_key" --tls-cert "$P/server.pem"
serve_refused "tls_cert '$P': not a regular file" --tls-cert "$P" --tls-key "$P/server.key"
if [ "$(id -u)" != 0 ]; then # root reads any file
    cp "$P/server.key" "$P/locked.key"
    chmod 000 "$P/locked.key"
    serve_refused "tls_key '$P/locked.key': Permission denied" \
        --tls-cert "$P/server.pem" --tls-key "$P/locked.key"
fi
# The environment and the settings file name them as well; a flag wins.
FERRYD_TLS_KEY=$P/otherca.key serve_refused "is not the key of the certificate" \
    --tls-cert "$P/server.pem"
printf '{"tls_cert": "%s", "tls_key": "%s"}\n' "$P/server.pem" "$P/otherca.key" \
    >"$T/settings.json"
serve_refused "is not the key of the certificate" --config "$T/settings.json"
printf '{"tls_cert": 7}\n' >"$T/bad-settings.json"
serve_refused '"tls_cert" must be a string' --config "$T/bad-settings.json"

# Good files, named by the settings file with the flag overriding its key.
FERRYD_ARGS="--config $T/settings.json --tls-key $P/server.key"
start_ferryd
HTTPS=https://127.0.0.1:$PORT
# The test certificate lives two days: ferryd warns a month ahead.
grep -Eq "ferryd: warn: tls: the certificate in '$P/server.pem' expires in (1 day|2 days)\$" "$T/ferryd.log" ||
    fail "no expiry warning: $(grep tls "$T/ferryd.log")"
assert_eq "health over https" 200 \
    "$(curl -s --cacert "$P/ca.pem" -o /dev/null -w '%{http_code}' "$HTTPS/health")"
# Plain http to the https port: no HTTP answer at all.
code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/health" || true)
assert_eq "plain http to the https port" 000 "$code"
# curl without the CA refuses the certificate too (it is not a public one).
curl -s -o /dev/null "$HTTPS/health" && fail "curl trusted the test certificate without its CA"

URL=$HTTPS
for d in a b; do
    agent_init $d dev-$d
    app_sql "$T/$d/app.db" "CREATE TABLE items (id INTEGER PRIMARY KEY,
        name TEXT, qty INTEGER, price REAL, data BLOB)"
done
# set_ca AGENT FILE|null: ferry.ca_file in the agent's config.json
set_ca() {
    if [ "$2" = null ]; then
        jq 'del(.ferry.ca_file)' "$T/$1/config.json" >"$T/$1/c.tmp"
    else
        jq --arg f "$2" '.ferry.ca_file = $f' "$T/$1/config.json" >"$T/$1/c.tmp"
    fi
    mv "$T/$1/c.tmp" "$T/$1/config.json"
}
set_ca a "$P/ca.pem"
# A relative ca_file is relative to the config's folder.
cp "$P/ca.pem" "$T/b/ca.pem"
set_ca b ca.pem
for d in a b; do
    ferry_in $d track items >/dev/null || fail "track on $d"
done
app_sql "$T/a/app.db" "INSERT INTO items VALUES (1, 'over tls', 3, 1.5, x'00ff');
    INSERT INTO items VALUES (2, 'second', NULL, NULL, randomblob(2000))"
KEY=$KA ferry_in a push >"$T/push.out" 2>>"$T/agent.log" || fail "push over https: $(tail -n 3 "$T/agent.log")"
grep -q "pushed 2 changes" "$T/push.out" || fail "push: $(cat "$T/push.out")"
assert_eq "rows in the store" 2 "$(store_sql 'SELECT count(*) FROM items')"
KEY=$KB ferry_in b pull >"$T/pull.out" 2>>"$T/agent.log" || fail "pull over https: $(tail -n 3 "$T/agent.log")"
assert_eq "b's rows after pull" "$(digest_store)" "$(digest_app "$T/b/app.db")"
assert_eq "a's rows = the store's" "$(digest_store)" "$(digest_app "$T/a/app.db")"

# The wrong CA: a clear message, exit 3 (retrying would not fix it), the
# change kept in the outbox for when the CA is right.
app_sql "$T/a/app.db" "UPDATE items SET qty = 4 WHERE id = 1"
set_ca a "$P/otherca.pem"
rc=0
KEY=$KA ferry_in a push >"$T/wrong.out" 2>"$T/wrong.err" || rc=$?
assert_eq "push with the wrong CA" 3 "$rc"
grep -q "certificate verify failed: .*(set ferry.ca_file to your CA)" "$T/wrong.err" ||
    fail "wrong CA message: $(cat "$T/wrong.err")"
assert_eq "wrong CA: one attempt only" 1 "$(grep -c 'certificate verify failed' "$T/wrong.err")"
assert_eq "nothing arrived" 3 "$(store_sql 'SELECT qty FROM items WHERE id = 1')"
KEY=$KA ferry_in a status --json | grep -q '"outbox": 1' || fail "the change left the outbox"
# No ca_file: the system's CA store does not know the test CA either.
set_ca a null
rc=0
KEY=$KA ferry_in a push >/dev/null 2>"$T/none.err" || rc=$?
assert_eq "push without a CA" 3 "$rc"
grep -q "certificate verify failed" "$T/none.err" || fail "no CA: $(cat "$T/none.err")"
# sync --watch stops for it too instead of retrying for ever.
rc=0
FERRY_API_KEY=$KA timeout 30 "$FERRY" --config "$T/a/config.json" sync --watch >/dev/null 2>"$T/watch.err" || rc=$?
assert_eq "sync --watch without the CA" 3 "$rc"
# A ca_file that is not there is a config error before any request.
set_ca a "$P/nothere.pem"
rc=0
KEY=$KA ferry_in a push >/dev/null 2>"$T/missing.err" || rc=$?
assert_eq "missing ca_file" 3 "$rc"
grep -q "ferry.ca_file '$P/nothere.pem' is not a readable file" "$T/missing.err" ||
    fail "missing ca_file: $(cat "$T/missing.err")"
set_ca a "$P/ca.pem"
KEY=$KA ferry_in a push >/dev/null 2>>"$T/agent.log" || fail "push with the CA back"
assert_eq "the kept change arrived" 4 "$(store_sql 'SELECT qty FROM items WHERE id = 1')"

# The tracked runs client (include/ferry/ferry_runs.h) verifies the same way.
KEY=$KA ferry_in a runs --json >/dev/null 2>>"$T/agent.log" || fail "ferry runs over https"
set_ca a "$P/otherca.pem"
rc=0
KEY=$KA ferry_in a runs --json >/dev/null 2>"$T/runs.err" || rc=$?
assert_eq "ferry runs with the wrong CA" 3 "$rc"
grep -q "certificate verify failed" "$T/runs.err" || fail "runs: $(cat "$T/runs.err")"
