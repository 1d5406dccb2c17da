# labels: slow
# An answer ferry cannot use is a network error, never a verdict: a
# response cut inside its status line or headers (which libcurl reports as
# a 200 with no body), nothing at all, a 200 with an empty, non-JSON, cut
# or acked_seq-less body. With the fault for good, push retries and exits 5
# with the outbox intact and nothing parked; with the fault on the first
# requests only, push retries through it and everything arrives.
cat >"$T/fake.py" <<'PY'
import os, sys
sys.path.insert(0, os.environ["E2E_DIR"])
import fakehttp
kind, faults, upstream, portfile = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
CUT = {
    "status": b"HTTP/1.1 2",
    "headers": b"HTTP/1.1 200 OK\r\nContent-Type: appl",
    "headers-crlf": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n",
    "nothing": b"",
    "empty200": b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    "html200": b"HTTP/1.1 200 OK\r\nContent-Length: 17\r\nConnection: close\r\n\r\n<html>oops</html>",
    "noacked200": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\nConnection: close\r\n\r\n{\"ok\":true}",
    "cutbody200": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{\"acked_se",
}[kind]
seen = 0

def handle(hdrs, body, changes):
    global seen
    seen += 1
    return CUT if seen <= faults else None

fakehttp.serve(portfile, upstream, handle)
PY
items_contract
ferryd_migrate
KEY=$(make_key edge1)
start_ferryd
agent_init a edge1 50
APP=$T/a/app.db
fill_items "$APP" 120
ferry_in a track items >/dev/null || fail track
REAL_URL=$URL

fake() { # KIND FAULTS: starts the fake in front of ferryd, points the agent at it
    fake_start a "$T/fake.py" "$1" "$2" "${REAL_URL#http://}"
}
unfake() { fake_stop; }

outbox() { app_sql "$APP" 'SELECT count(*) FROM _ferry_outbox'; }
dead() { app_sql "$APP" 'SELECT count(*) FROM _ferry_dead'; }
round=0
for kind in status headers headers-crlf nothing empty200 html200 noacked200 cutbody200; do
    round=$((round + 1))
    app_sql "$APP" "UPDATE items SET qty = coalesce(qty, 0) + $round WHERE id % 9 = $((round % 9));
      INSERT OR REPLACE INTO items (id, name) VALUES (1000 + $round, '$kind')"
    # For good: the budget runs out, exit 5, nothing lost or parked.
    before=$(outbox)
    fake "$kind" 1000000
    rc=0
    ferry_in a push --retry-for 2 >"$T/push.out" 2>>"$T/agent.log" || rc=$?
    unfake
    assert_eq "$kind for good: exit" 5 "$rc"
    grep -q 'retries)' "$T/push.out" || fail "$kind: summary: $(cat "$T/push.out")"
    assert_eq "$kind for good: nothing parked" 0 "$(dead)"
    [ "$(outbox)" -ge 1 ] || fail "$kind: outbox emptied"
    [ "$(outbox)" -le "$before" ] || fail "$kind: outbox grew"
    # On the first three requests only: retried through, all arrives.
    fake "$kind" 3
    rc=0
    ferry_in a push --retry-for 60 >"$T/push.out" 2>>"$T/agent.log" || rc=$?
    unfake
    assert_eq "$kind then fine: exit" 0 "$rc"
    grep -q ', 3 retries)' "$T/push.out" || fail "$kind: 3 retries expected: $(cat "$T/push.out")"
    assert_eq "$kind then fine: outbox" 0 "$(outbox)"
    assert_eq "$kind then fine: digest" "$(digest_app "$APP")" "$(digest_store)"
    assert_eq "$kind: nothing parked" 0 "$(dead)"
done
