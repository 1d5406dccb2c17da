# The auth matrix: every endpoint ferryd has (as `ferryd routes` lists
# them: a route missing from the table fails) against no key, a malformed
# key, an unknown key, a wrong secret, a revoked, an expired and a rotated
# key, a device key on an admin route, another region's key, another
# device's run or blob, a dashboard session on the API and an API key on
# the dashboard: each cell of tests/e2e/fixtures/auth_matrix.tsv gets its
# exact status and error code, and the store's digest is the same after
# it as before. Then no secret used (a full key, its secret part alone,
# the session token) is in ferryd's log, the agent's log, any answer or
# any dashboard page.
. "$E2E_DIR/authlib.sh"
auth_setup

# An agent of pc-a pushes and pulls, so that its log is searched too.
agent_init a pc-a
app_sql "$T/a/app.db" "CREATE TABLE notes (id INTEGER PRIMARY KEY,
    region TEXT, body TEXT); INSERT INTO notes VALUES (10, 'r1', 'from the agent')"
KEY=$KA ferry_in a track notes >/dev/null 2>>"$T/agent.log" || fail track
KEY=$KA FERRY_LOG=all ferry_in a sync >>"$T/agent.log" 2>&1 || fail "sync: $(tail -n 3 "$T/agent.log")"
# ...and an agent left with the rotated key's old secret says why.
agent_init b pc-rot
KEY=$KROT_OLD ferry_in b push >>"$T/agent.log" 2>&1 && fail "push with a rotated-out secret"
grep -q "replaced by 'ferryd keys rotate'" "$T/agent.log" ||
    fail "the agent does not say the key was rotated: $(tail -n 2 "$T/agent.log")"

# The dashboard's pages as the admin sees them, before the matrix's owner
# column logs the session out.
for p in "" /devices /streams /charts /keys; do
    curl -s -b "ferry_session=$SESSION" "$URL/dashboard$p" >"$T/page$(echo "$p" | tr / _).html"
    grep -q '<html' "$T/page$(echo "$p" | tr / _).html" || fail "dashboard$p"
done

"$FERRYD" routes >"$T/routes.txt" || fail "ferryd routes"
mkdir "$T/answers"
python3 "$E2E_DIR/auth_matrix.py" "$E2E_DIR/fixtures/auth_matrix.tsv" \
    "$T/routes.txt" "$T/creds.json" "$T/answers" >"$T/matrix.out" ||
    fail "the auth matrix (answers in $T/answers/matrix.actual.tsv)"
note "$(cat "$T/matrix.out")"
# A route the table does not list fails the matrix: the same run on a
# table without its first route.
grep -v '^GET	/health	' "$E2E_DIR/fixtures/auth_matrix.tsv" >"$T/short.tsv"
python3 "$E2E_DIR/auth_matrix.py" "$T/short.tsv" "$T/routes.txt" \
    "$T/creds.json" "$T/answers" 2>"$T/short.err" && fail "a missing route went unnoticed"
grep -q 'has the route GET /health (none) but short.tsv has no row' "$T/short.err" ||
    fail "missing route: $(cat "$T/short.err")"

# Secrets: nowhere but where they were handed out.
stop_ferryd
auth_grep_secrets "ferryd's log" "$T/ferryd.log" "$T/ferryd.out"
auth_grep_secrets "the agents' log" "$T/agent.log"
auth_grep_secrets "an answer" "$T"/answers/answer.*
auth_grep_secrets "a dashboard page" "$T"/page*.html
note "secrets looked for: $(wc -l <"$T/secrets.txt"); answers searched: $(find "$T/answers" -name 'answer.*' | wc -l)"
