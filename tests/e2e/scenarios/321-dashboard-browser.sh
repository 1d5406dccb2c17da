# The dashboard in headless Chromium (Debian's chromium and chromium-driver,
# over the W3C WebDriver protocol: tests/e2e/dashboard_browser.py), against
# a store fed by real agents: a page without a session lands on the log-in
# form; a wrong key and a device key are refused; the admin key logs in and
# every page shows the real data; a key is created (it then works against
# the API) and revoked (it then fails); a form posted from another site is
# refused with an Origin and, without one, for its missing CSRF token, and
# creates nothing; log-out kills the old cookie. Screenshots of each page
# go to the build dir's artifacts/dashboard/.
. "$E2E_DIR/dashlib.sh"
command -v chromium >/dev/null && command -v chromedriver >/dev/null ||
    fail "chromium and chromedriver are needed (scripts/deps.sh installs them)"
dash_setup
SHOTS=${DASH_ARTIFACTS:-$(dirname "$(dirname "$FERRYD")")/artifacts/dashboard}
n0=$(store_sql "SELECT count(*) FROM ${FT}api_keys")
python3 "$E2E_DIR/dashboard_browser.py" "$URL" "$ADMIN" "$KA" "$SHOTS" \
    "$STORE" "$T" >"$T/browser.out" 2>&1 ||
    fail "$(cat "$T/browser.out"; tail -n 5 "$T/chromedriver.log" 2>/dev/null)"
grep -q '^browser: ok$' "$T/browser.out" || fail "$(cat "$T/browser.out")"
# One key created and revoked; nothing from the other site.
assert_eq "keys" "$((n0 + 1))" "$(store_sql "SELECT count(*) FROM ${FT}api_keys")"
assert_eq "revoked" "pc-izmir|izmir" "$(store_sql "SELECT device, region FROM ${FT}api_keys WHERE revoked_at IS NOT NULL")"
assert_eq "no evil key" 0 "$(store_sql "SELECT count(*) FROM ${FT}api_keys WHERE device = 'evil'")"
for p in login refused overview overview-phone devices-phone devices streams charts keys key-created key-revoked cross-site; do
    [ -s "$SHOTS/$STORE-$p.png" ] || fail "no screenshot $SHOTS/$STORE-$p.png"
done
grep -q "log-in refused" "$T/ferryd.log" || fail "refusals not logged"
grep -q "posted from another site" "$T/ferryd.log" || fail "cross-site post not logged"
stop_ferryd
