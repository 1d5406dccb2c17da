# docs/walkthroughs/user-profiles.md run as written: the page's users.json
# and mapping (the mapping is the one the other import scenarios use), the
# dry run and the import with the page's outputs, the page's mistyped value
# named with its line, track and contract, migrate and keys on this
# scenario's store (the page's PostgreSQL URL replaced by it, ferryd on a
# free port), the push, the page's count query answering the dry run's
# numbers, the page's Python on the row API (and four of its clients at once on
# one user, each setting another column: none lost), a second import that
# changes nothing, then the way back: pull and export give the original
# document with exactly the app's changes.
# A PostgreSQL cluster of its own: a pull right after a push must not wait
# on other scenarios' transactions (the pull horizon is cluster-wide).
own_pg
UP=docs/walkthroughs/user-profiles.md
PATH=$(dirname "$FERRY"):$(dirname "$FERRYD"):$PATH
unset FERRY_API_KEY FERRYD_STORE FERRY_CONFIG FERRY_URL
export FERRY_LOG= FERRYD_LOG=
PAGE_STORE=postgresql://local:local@127.0.0.1:5496/kindle_db
mkdir -p "$T/agent" "$T/server"
# doc_cmd CMD: CMD as the page has it, on this scenario's store and ferryd.
doc_cmd() {
    docs_has $UP "$1"
    eval "$(printf '%s' "$1" | sed -e "s|$PAGE_STORE|$STORE_URL|" \
        -e "s|http://127.0.0.1:8080|${URL:-http://127.0.0.1:8080}|")"
}
# counts FILE: the dry run's or import's table as "table create" lines
counts() {
    awk 'NR > 1 && NF == 5 { print $1 "|" $2 }' "$1"
}

# 1-2. The document and the mapping.
cd "$T/agent"
docs_block $UP up-users >users.json
docs_block $UP up-mapping >users.mapping.json
[ -s users.json ] && [ -s users.mapping.json ] || fail "no document or mapping in $UP"
python3 - users.mapping.json "$E2E_DIR/fixtures/users.mapping.json" <<'PY' ||
import json, sys
assert json.load(open(sys.argv[1])) == json.load(open(sys.argv[2]))
PY
    fail "the page's mapping is not tests/e2e/fixtures/users.mapping.json"
cp users.json original.json

# 3. Import: the dry run, a mistyped value, the import.
doc_cmd "ferry init --db profiles.db --url http://127.0.0.1:8080 --device profiles-import" \
    >init.out 2>&1 || fail "init: $(cat init.out)"
doc_cmd "ferry import json users.json --mapping users.mapping.json --create --dry-run" \
    >dry.out 2>dry.err || fail "dry run: $(cat dry.err)"
docs_check $UP up-dry-run dry.out
[ ! -e users.json.backup ] || fail "a dry run made a copy of the file"
doc_cmd "ferry import json users.json --mapping users.mapping.json --create" \
    >import.out 2>import.err || fail "import: $(cat import.err)"
docs_check $UP up-import import.out
cmp -s users.json.backup original.json || fail "users.json.backup is not the file"
# The page's mistyped value: named with its line, nothing written, no
# second copy of the file.
digest() { sqlite3 profiles.db .dump | md5sum; }
before=$(digest)
sed 's/"font_size": 12/"font_size": "large"/' original.json >users.json
rc=0
ferry import json users.json --mapping users.mapping.json >bad.out 2>bad.err || rc=$?
assert_eq "a mistyped value's exit" 3 $rc
docs_has $UP "$(cat bad.err)"
assert_eq "a failed import wrote nothing" "$before" "$(digest)"
[ ! -e users.json.backup.1 ] || fail "a failed import made a copy of the file"
cp original.json users.json

# 4. The tables on the store, the push, the counts.
doc_cmd "ferry track users emulator_settings device_identifiers library_settings reading_settings user_preferences" \
    >track.out 2>&1 || fail "track: $(cat track.out)"
doc_cmd "ferry contract -o contract.json" >contract.out 2>&1 ||
    fail "contract: $(cat contract.out)"
cp contract.json "$T/server/"
cd "$T/server"
doc_cmd "ferryd --store $PAGE_STORE --contract contract.json migrate" \
    >migrate.out 2>&1 || fail "migrate: $(cat migrate.out)"
KEY=$(doc_cmd "ferryd --store $PAGE_STORE keys create --device profiles-import" 2>/dev/null)
APP_KEY=$(doc_cmd "ferryd --store $PAGE_STORE keys create --device flask-app" 2>/dev/null)
[ -n "$KEY" ] && [ -n "$APP_KEY" ] || fail "keys create"
docs_has $UP "ferryd --store $PAGE_STORE --contract contract.json serve --listen 127.0.0.1:8080"
docs_serve --store "$STORE_URL" --contract contract.json
cd "$T/agent"
sed -i "s|http://127.0.0.1:8080|$URL|" config.json
docs_has $UP "export FERRY_API_KEY=fy_..."
export FERRY_API_KEY=$KEY
docs_run $UP "ferry push" >push.out 2>push.err || fail "push: $(cat push.err)"
docs_check $UP up-push push.out
docs_block $UP up-counts >counts.sql
[ -s counts.sql ] || fail "no count query in $UP"
assert_eq "the store's counts are the dry run's" "$(counts dry.out)" \
    "$(cd "$T/server" && store_sql "$(cat "$T/agent/counts.sql")")"

# Importing the same file again changes nothing.
ferry import json users.json --mapping users.mapping.json >again.out 2>again.err ||
    fail "second import: $(cat again.err)"
assert_eq "a second import" "0" \
    "$(awk 'NR > 1 && NF == 5 { n += $2 + $3 + $5 } END { print n + 0 }' again.out)"
assert_eq "nothing queued by it" 0 "$(app_sql profiles.db "SELECT count(*) FROM _ferry_outbox")"

# 5. The app on the row API, verbatim; then four clients of it at once on
# one user, each setting another column (auth_state by PATCH, reading
# settings by POST of one column each): every value in place.
docs_block $UP up-app >app.py
[ -s app.py ] || fail "no app code in $UP"
cat >use.py <<'PY'
from app import *
update_auth_state("sakura@example.jp", True)
update_reading_settings("sakura@example.jp", theme="sepia", font_size=14)
PY
docs_has $UP 'update_auth_state("sakura@example.jp", True)'
docs_has $UP 'update_reading_settings("sakura@example.jp", theme="sepia", font_size=14)'
FERRY_URL=$URL FERRY_API_KEY=$APP_KEY python3 use.py >use.out 2>&1 ||
    fail "the app's calls: $(cat use.out)"
cat >race.py <<'PY'
import sys
from app import *
n = int(sys.argv[1])
for i in range(20):
    if n == 0:
        update_auth_state("ana@example.com", i % 2 == 1)
    elif n % 3 == 1:
        update_reading_settings("ana@example.com", font_size=100 * n + i)
    elif n % 3 == 2:
        update_reading_settings("ana@example.com", brightness=n + i / 100)
    else:
        update_reading_settings("ana@example.com", theme="t%d-%d" % (n, i))
PY
pids=
for n in 0 1 2 3; do
    FERRY_URL=$URL FERRY_API_KEY=$APP_KEY python3 race.py $n >race.$n.out 2>&1 &
    pids="$pids $!"
done
for p in $pids; do wait "$p" || fail "a racing client failed: $(cat race.*.out)"; done
assert_eq "every racing column's last value" "1|119|2.19|t3-19" \
    "$(cd "$T/server" && store_sql "SELECT CASE WHEN u.auth_state THEN 1 ELSE 0 END,
        r.font_size, r.brightness, r.theme FROM users u JOIN reading_settings r
        ON r.user_email = u.email WHERE u.email = 'ana@example.com'")"

# 8. The way back: the original with exactly the app's changes.
docs_run $UP "ferry pull" >pull.out 2>pull.err || fail "pull: $(cat pull.err)"
docs_run $UP "ferry export json --mapping users.mapping.json -o users.json" \
    >export.out 2>export.err || fail "export: $(cat export.err)"
python3 - original.json users.json <<'PY' || fail "the exported document"
import json, sys
want = json.load(open(sys.argv[1]))
got = json.load(open(sys.argv[2]))
want["sakura@example.jp"]["auth_state"] = True
want["sakura@example.jp"]["reading_settings"] = {
    "theme": "sepia", "font_size": 14, "brightness": None,
    "highlight_menu_disabled": None, "word_wise_disabled": None}
ana = want["ana@example.com"]
ana["auth_state"] = True
ana["reading_settings"].update(font_size=119, brightness=2.19, theme="t3-19")
assert got == want, (got, want)
PY
