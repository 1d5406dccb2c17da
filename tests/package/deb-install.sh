#!/bin/sh
# The Debian package on this machine (ctest package_deb, label package):
# builds it with scripts/package-deb.sh, checks its contents and units
# (systemd-analyze verify), installs it with dpkg -i, starts the installed
# ferryd exactly as ferryd.service's ExecStart says, as the user ferryd
# the package created, with its store and contract in the unit's
# StateDirectory, and GETs /health over loopback; then purges it.
#   deb-install.sh SOURCE_DIR WORK_DIR
# It installs for real, so it runs only as root (CI's machine is fresh and
# disposable); otherwise, or when a ferry package is installed already (not
# ours to replace), it says why and exits 77 (ctest: skipped).
set -eu
SRC=$1
WORK=$2
SKIP=77

fail() {
    echo "FAIL: $*" >&2
    exit 1
}
skip() {
    echo "SKIP: $*" >&2
    exit $SKIP
}
[ "$(id -u)" = 0 ] || skip "installs the .deb with dpkg -i: run as root (CI does)"
command -v dpkg >/dev/null && command -v dpkg-deb >/dev/null || skip "not a Debian system (no dpkg)"
if dpkg-query -W -f '${Status}' ferry 2>/dev/null | grep -q 'installed'; then
    skip "a ferry package is installed already; this test does not replace it"
fi
[ ! -e /usr/bin/ferryd ] || skip "/usr/bin/ferryd exists and is not from a ferry package"

rm -rf "$WORK"
mkdir -p "$WORK"
T=$(mktemp -d "${TMPDIR:-/tmp}/ferry-deb-test.XXXXXX")
chmod 755 "$T"
FERRYD_PID=
USER_BEFORE=$(getent passwd ferryd || true)
INSTALLED=0
cleanup() {
    rc=$?
    set +e
    [ -n "$FERRYD_PID" ] && kill "$FERRYD_PID" 2>/dev/null && wait "$FERRYD_PID" 2>/dev/null
    if [ $INSTALLED = 1 ]; then
        dpkg --purge ferry >>"$T/dpkg.log" 2>&1 || echo "dpkg --purge failed: $(tail -n 5 "$T/dpkg.log")" >&2
        # What the package leaves on purge by design (data, the user), made
        # by this test: removed.
        rm -rf /var/lib/ferryd /etc/ferry/ferryd.json
        rmdir /etc/ferry 2>/dev/null
        [ -z "$USER_BEFORE" ] && getent passwd ferryd >/dev/null && userdel ferryd
    fi
    if [ $rc -eq 0 ]; then rm -rf "$T"; else echo "logs in $T" >&2; fi
    exit $rc
}
trap cleanup EXIT INT TERM

DEB=$(JOBS=${JOBS:-2} sh "$SRC/scripts/package-deb.sh" "$WORK/build" "$WORK/dist" 2>"$T/build.log" | tail -n 1) ||
    fail "package-deb.sh: $(tail -n 20 "$T/build.log")"
case $DEB in
*/ferry_*_"$(dpkg --print-architecture)".deb) ;;
*) fail "package-deb.sh printed '$DEB', not ferry_<version>_<arch>.deb" ;;
esac
VERSION=$(sed -n 's/^project(ferry VERSION \([0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt")
assert_eq() { [ "$2" = "$3" ] || fail "$1: expected '$2', got '$3'"; }
assert_eq "package version" "$VERSION" "$(dpkg-deb -f "$DEB" Version)"
for dep in libmicrohttpd12 libcurl4 libpq5 libsqlite3-0 libjansson4 libssl3 libc6; do
    dpkg-deb -f "$DEB" Depends | grep -q "\\b$dep\\b" || fail "Depends lacks $dep: $(dpkg-deb -f "$DEB" Depends)"
done
dpkg-deb -c "$DEB" | awk '{print $6}' >"$T/contents"
for f in ./usr/bin/ferry ./usr/bin/ferryd ./lib/systemd/system/ferryd.service \
    ./lib/systemd/system/ferry-sync.service ./lib/systemd/system/ferry-sync.timer \
    ./etc/ferry/ferryd.json.sample ./etc/ferry/config.json.sample \
    ./usr/share/doc/ferry/README.md ./usr/share/doc/ferry/operations.md \
    ./usr/share/doc/ferry/configuration.md ./usr/share/doc/ferry/copyright; do
    grep -qx "$f" "$T/contents" || fail "the package lacks $f"
done
if command -v lintian >/dev/null; then
    lintian --no-tag-display-limit "$DEB" >"$T/lintian.log" 2>&1 || echo "lintian (not failing the test): $(grep -c '^E:' "$T/lintian.log") errors" >&2
fi

dpkg -i "$DEB" >"$T/dpkg.log" 2>&1 || { INSTALLED=1; fail "dpkg -i: $(tail -n 20 "$T/dpkg.log")"; }
INSTALLED=1
getent passwd ferryd >/dev/null || fail "the package created no user ferryd"
assert_eq "installed ferryd --version" "ferryd $VERSION" "$(/usr/bin/ferryd --version)"
assert_eq "installed ferry --version" "ferry $VERSION" "$(/usr/bin/ferry --version)"
UNIT=
for d in /lib/systemd/system /usr/lib/systemd/system; do
    [ -f "$d/ferryd.service" ] && UNIT=$d/ferryd.service && break
done
[ -n "$UNIT" ] || fail "ferryd.service not installed"
UNITDIR=$(dirname "$UNIT")

# The units as systemd reads them (the binaries they name exist now).
if command -v systemd-analyze >/dev/null; then
    for u in ferryd.service ferry-sync.service ferry-sync.timer; do
        SYSTEMD_LOG_LEVEL=warning systemd-analyze verify "$UNITDIR/$u" >"$T/verify.log" 2>&1 ||
            fail "systemd-analyze verify $u: $(cat "$T/verify.log")"
        # It exits 0 for unknown keys too: any complaint fails the test.
        if grep -v 'Failed to connect to bus\|not running\|offline' "$T/verify.log" | grep -q .; then
            fail "systemd-analyze verify $u: $(cat "$T/verify.log")"
        fi
    done
else
    echo "systemd-analyze missing (package systemd): unit keys not verified" >&2
fi
for k in 'User=ferryd' 'StateDirectory=ferryd' 'ProtectSystem=strict' 'ProtectHome=yes' \
    'NoNewPrivileges=yes' 'PrivateTmp=yes' 'PrivateDevices=yes' \
    'SystemCallFilter=@system-service' 'CapabilityBoundingSet=$'; do
    grep -q "^$k" "$UNIT" || fail "ferryd.service lacks $k"
done

# The unit's own lines: ExecStart, User, WorkingDirectory, StateDirectory.
unit_value() { sed -n "s/^$1=//p" "$UNIT" | tail -n 1; }
EXEC=$(unit_value ExecStart)
RUN_USER=$(unit_value User)
STATE=/var/lib/$(unit_value StateDirectory)
WD=$(unit_value WorkingDirectory)
CONF=$(echo "$EXEC" | sed -n 's/.*--config \([^ ]*\).*/\1/p')
[ -n "$EXEC" ] && [ -n "$CONF" ] || fail "ExecStart '$EXEC' names no --config file"
grep -qF "\`$EXEC\`" "$SRC/docs/operations.md" ||
    fail "docs/operations.md does not show ferryd.service's ExecStart '$EXEC'"
# What an admin does before starting it: the settings from the sample (on
# a free port), a contract in the state directory, migrate as the user.
[ -d "$STATE" ] || install -d -m 750 -o "$RUN_USER" -g "$RUN_USER" "$STATE"
assert_eq "state directory owner" "$RUN_USER" "$(stat -c %U "$STATE")"
jq '.listen = "127.0.0.1:0"' /etc/ferry/ferryd.json.sample >"$CONF"
STORE_FILE=$(jq -r .store "$CONF" | sed 's/^sqlite://')
CONTRACT=$(jq -r .contract "$CONF")
case $STORE_FILE:$CONTRACT in "$STATE"/*:"$STATE"/*) ;; *) fail "the sample's store and contract are not in $STATE" ;; esac
cat >"$CONTRACT" <<'JSON'
{"version": 1, "tables": [{"name": "items",
  "columns": [{"name": "id", "type": "bigint", "not_null": true},
              {"name": "name", "type": "text"}],
  "primary_key": ["id"]}]}
JSON
chown "$RUN_USER:" "$CONTRACT"
runuser -u "$RUN_USER" -- /usr/bin/ferryd --config "$CONF" migrate >"$T/migrate.log" 2>&1 ||
    fail "migrate as $RUN_USER: $(cat "$T/migrate.log")"

# As the unit would: its user, its directory, stdout and stderr to the
# journal (JOURNAL_STREAM set), the ExecStart line word for word.
# shellcheck disable=SC2086 # ExecStart's words, as systemd splits them
(cd "$WD" && JOURNAL_STREAM=8:12345 exec setpriv --reuid "$RUN_USER" --regid "$RUN_USER" \
    --init-groups --no-new-privs -- $EXEC >"$T/ferryd.out" 2>"$T/ferryd.log") &
FERRYD_PID=$!
i=0
while ! grep -q '^listening on' "$T/ferryd.out" 2>/dev/null; do
    kill -0 "$FERRYD_PID" 2>/dev/null || fail "the installed ferryd died: $(tail -n 5 "$T/ferryd.log")"
    i=$((i + 1))
    [ $i -gt 200 ] && fail "the installed ferryd did not start"
    sleep 0.05
done
PORT=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$T/ferryd.out")
assert_eq "GET /health of the installed ferryd" 200 \
    "$(curl -s -o "$T/health.json" -w '%{http_code}' "http://127.0.0.1:$PORT/health")"
assert_eq "ferryd's user" "$RUN_USER" "$(ps -o user= -p "$(pgrep -P "$FERRYD_PID" ferryd || echo "$FERRYD_PID")" | tr -d ' ')"
assert_eq "store file owner" "$RUN_USER" "$(stat -c %U "$STORE_FILE")"
# The installed agent pushes to it.
KEY=$(runuser -u "$RUN_USER" -- /usr/bin/ferryd --config "$CONF" keys create --device pkg-test 2>>"$T/keys.log") ||
    fail "keys create as $RUN_USER: $(cat "$T/keys.log")"
sqlite3 "$T/app.db" "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT);
    INSERT INTO items VALUES (1, 'from the package')" || fail "app database"
/usr/bin/ferry --config "$T/config.json" init --db "$T/app.db" --url "http://127.0.0.1:$PORT" \
    --device pkg-test >/dev/null 2>>"$T/agent.log" || fail "ferry init: $(cat "$T/agent.log")"
/usr/bin/ferry --config "$T/config.json" track items >/dev/null 2>>"$T/agent.log" || fail "ferry track"
FERRY_API_KEY=$KEY /usr/bin/ferry --config "$T/config.json" push >"$T/push.out" 2>>"$T/agent.log" ||
    fail "ferry push: $(tail -n 3 "$T/agent.log")"
assert_eq "row in the installed ferryd's store" "from the package" \
    "$(sqlite3 "$STORE_FILE" 'SELECT name FROM items WHERE id = 1')"
# journald stamps each line: ferryd's own lines carry no time of their own.
grep -q '^ferryd: info: ' "$T/ferryd.log" || fail "no log lines: $(head -n 3 "$T/ferryd.log")"
if grep -Eq '(^|[^0-9])20[0-9]{2}-[01][0-9]-[0-3][0-9][T ][0-9]{2}:[0-9]{2}' "$T/ferryd.log"; then
    fail "log lines carry a timestamp (journald adds one): $(head -n 3 "$T/ferryd.log")"
fi
kill "$FERRYD_PID"
rc=0
wait "$FERRYD_PID" || rc=$?
FERRYD_PID=
assert_eq "ferryd's exit on SIGTERM" 0 "$rc"

dpkg --purge ferry >>"$T/dpkg.log" 2>&1 || fail "dpkg --purge: $(tail -n 5 "$T/dpkg.log")"
INSTALLED=0
[ ! -e /usr/bin/ferryd ] && [ ! -e "$UNIT" ] && [ ! -e /etc/ferry/ferryd.json.sample ] ||
    fail "files left after purge"
rm -rf /var/lib/ferryd /etc/ferry/ferryd.json
rmdir /etc/ferry 2>/dev/null || true
[ -z "$USER_BEFORE" ] && userdel ferryd
echo "package_deb: ok ($DEB)"
