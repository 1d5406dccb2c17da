# One runner at a time: a second `ferry job run` of a stream whose lease is
# held exits 8 without running its job (the refusal is in the history);
# --every waits for its turn. A run that loses its lease stops its job:
# SIGTERM, SIGKILL 10 s later for a job that ignores it, exit 10, the run
# abandoned and the next one starting from the last committed cursor;
# both ways a lease is lost (no heartbeat answered while ferryd hangs, and
# 409 lease_expired after the runner itself was stopped past its lease).
# SIGTERM is passed on to the job; --every exits 0 on it. Answers lost on
# the way back are retried safely: a begin gets its own run again, a
# complete or fail that already happened counts as done.
. "$E2E_DIR/runslib.sh"
jobs_setup jobs "$T/job"
# The job: "start NAME" in $T/job/events, works TIME tenths of a second
# (in short sleeps, so a killed job leaves no long orphan), "end NAME";
# with IGNORE=1 it ignores SIGTERM, else SIGTERM ends it with "term NAME".
cat >"$T/job/job.sh" <<'SH'
#!/bin/sh
if [ "${IGNORE:-}" = 1 ]; then trap '' TERM; else trap 'echo "term $1" >>"$EVENTS"; exit 143' TERM; fi
echo "start $1 $FERRY_CURSOR" >>"$EVENTS"
i=0
while [ $i -lt "${TIME:-0}" ]; do sleep 0.1; i=$((i + 1)); done
echo "cursor=${NEXT:-2024-01-15T10:30:00.000000}" >>"$FERRY_REPORT"
echo "end $1" >>"$EVENTS"
SH
chmod +x "$T/job/job.sh"
export EVENTS="$T/job/events"
: >"$EVENTS"
job() {
    FERRY_API_KEY=$K "$FERRY" --config "$T/job/config.json" "$@"
}
# job_bg LOG ARGS...: the same in the background; $! is ferry's own pid
job_bg() {
    _log=$1
    shift
    FERRY_API_KEY=$K "$FERRY" --config "$T/job/config.json" "$@" 2>>"$_log" &
}
wait_event() { # TEXT: waits up to 10 s for the line in the events
    _i=0
    until grep -qx "$1" "$EVENTS"; do
        _i=$((_i + 1))
        [ $_i -gt 200 ] && fail "no '$1' in the events: $(cat "$EVENTS")"
        sleep 0.05
    done
}
now_ms() { date +%s%3N; }

# Two at once: the second exits 8 and its job never starts.
TIME=20 job_bg "$T/a.log" job run s --lease 2 --instance runner-a -- "$T/job/job.sh" a
A=$!
wait_event "start a "
rc=0
job job run s --instance runner-b -- "$T/job/job.sh" b 2>"$T/b.log" || rc=$?
assert_eq "second runner: exit" 8 "$rc"
grep -q "info: job: run of s not started: stream 's' is being run by run [0-9]* (runner-a) until " "$T/b.log" ||
    fail "second runner's line: $(cat "$T/b.log")"
rc=0
wait $A || rc=$?
assert_eq "first runner (2 s, lease 2 s, kept by heartbeats): exit" 0 "$rc"
grep -q '^start b' "$EVENTS" && fail "the second runner's job ran"
stream_status s "$K"
assert_eq "history, newest first" "refused:runner-b success:runner-a" \
    "$(sf '" ".join("%s:%s" % (h["status"], h["instance"]) for h in v["history"])')"

# --every waits for its turn while another run holds the lease.
TIME=25 NEXT=2024-01-16T00:00:00.000000 job_bg "$T/a.log" job run s --instance runner-a -- "$T/job/job.sh" c
A=$!
wait_event "start c 2024-01-15T10:30:00.000000"
NEXT=2024-01-17T00:00:00.000000 job_bg "$T/e.log" job run s --every 1s --instance runner-e -- "$T/job/job.sh" e
E=$!
wait $A || fail "holder"
wait_event "end e"
kill -TERM $E
rc=0
wait $E || rc=$?
assert_eq "--every: exit on SIGTERM" 0 "$rc"
grep -q "run of s not started: stream 's' is being run by" "$T/e.log" || fail "--every was never refused: $(cat "$T/e.log")"
grep -q "start e 2024-01-16T00:00:00.000000" "$EVENTS" || fail "--every did not run after the holder: $(cat "$EVENTS")"
grep -q "info: job: run [0-9]* of s: success" "$T/e.log" || fail "--every: no success line"

# ferryd hangs: no heartbeat is answered, so the lease is lost by the
# runner's own count; the job gets SIGTERM, ferry exits 10.
C=$(job cursor show s)
TIME=100 NEXT=2099-01-01T00:00:00.000000 job_bg "$T/f.log" job run s --lease 2 -- "$T/job/job.sh" f
P=$!
wait_event "start f $C"
kill -STOP "$FERRYD_PID"
t0=$(now_ms)
rc=0
wait $P || rc=$?
took=$(($(now_ms) - t0))
kill -CONT "$FERRYD_PID"
assert_eq "lease lost while ferryd hung: exit" 10 "$rc"
grep -qx "term f" "$EVENTS" || fail "the job did not get SIGTERM: $(cat "$EVENTS")"
grep -q "warn: job: run [0-9]* of 's' lost its lease: no heartbeat was answered within 2 s (.*); stopping $T/job/job.sh (SIGTERM, SIGKILL 10 s later)" "$T/f.log" ||
    fail "lost lease line: $(cat "$T/f.log")"
note "ferryd hung: the job was stopped $took ms later (lease 2 s)"
[ "$took" -lt 4000 ] || fail "the job ran ${took} ms after ferryd hung, with a lease of 2 s"
sleep 2 # the lease is surely over by the server's clock too
job job run s -- "$T/job/job.sh" g 2>>"$T/g.log" || fail "run after the lost lease"
grep -q "start g $C" "$EVENTS" || fail "after a lost lease the next run must start from '$C'"
stream_status s "$K"
assert_eq "the lost run is abandoned" "success abandoned" \
    "$(sf '" ".join(h["status"] for h in v["history"][:2])')"

# The runner stopped past its lease: the next heartbeat hears 409
# lease_expired. The job ignores SIGTERM, so SIGKILL follows 10 s later.
C=$(job cursor show s)
IGNORE=1 TIME=300 job_bg "$T/h.log" job run s --lease 1 -- "$T/job/job.sh" h
P=$!
wait_event "start h $C"
kill -STOP $P
sleep 2.5
kill -CONT $P
t0=$(now_ms)
rc=0
wait $P || rc=$?
took=$(($(now_ms) - t0))
assert_eq "lease expired while the runner was stopped: exit" 10 "$rc"
grep -q "lost its lease: .*lease" "$T/h.log" || fail "409 lease_expired line: $(cat "$T/h.log")"
grep -qx "end h" "$EVENTS" && fail "the job that ignores SIGTERM ran to its end"
note "a job ignoring SIGTERM was killed $took ms after the lease was found lost"
[ "$took" -ge 9500 ] && [ "$took" -lt 14000 ] || fail "SIGKILL after $took ms, expected about 10 s"
job job run s -- "$T/job/job.sh" i 2>>"$T/g.log" || fail "run after the second lost lease"
grep -q "start i $C" "$EVENTS" || fail "the next run must start from '$C'"

# SIGTERM to ferry job run goes to the job; its run is recorded failed.
TIME=100 job_bg "$T/j.log" job run s -- "$T/job/job.sh" j
P=$!
wait_event "start j $C"
kill -TERM $P
rc=0
wait $P || rc=$?
assert_eq "SIGTERM during a run: exit" 9 "$rc"
grep -qx "term j" "$EVENTS" || fail "SIGTERM was not passed on"
stream_status s "$K"
assert_eq "a stopped run" "failed|$T/job/job.sh exited with status 143 (ferry job run was stopped by signal 15)" \
    "$(sf '"%s|%s" % (v["history"][0]["status"], v["history"][0]["error"])')"
# An idle --every stops at once.
job_bg "$T/k.log" job run s --every 1h -- "$T/job/job.sh" k
P=$!
wait_event "end k"
sleep 0.2
t0=$(now_ms)
kill -INT $P
wait $P || fail "--every: exit on SIGINT"
[ $(($(now_ms) - t0)) -lt 2000 ] || fail "an idle --every took $(($(now_ms) - t0)) ms to stop"

# Answers lost on the way back (a relay in front of ferryd forwards each
# request and drops the answer of the first begin, complete and fail): the
# retried begin gets its own run back (its Idempotency-Key), not a
# conflict with itself; a retried complete or fail that hears run_finished
# with its own status is done. One run each, nothing refused.
cat >"$T/relay.py" <<'PY'
import http.client, socket, sys, threading
upstream, portfile = sys.argv[1], sys.argv[2]
drop = {"runs": 1, "complete": 1, "fail": 1}
lock = threading.Lock()

def read_request(c):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = c.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    hdrs = dict(line.split(": ", 1) for line in lines[1:])
    n = int(hdrs.get("Content-Length", 0))
    while len(body) < n:
        body += c.recv(65536)
    return method, path, hdrs, body

def handle(c):
    with c:
        req = read_request(c)
        if not req:
            return
        method, path, hdrs, body = req
        u = http.client.HTTPConnection(upstream)
        fwd = {k: v for k, v in hdrs.items()
               if k.lower() not in ("host", "connection", "content-length")}
        u.request(method, path, body=body, headers=fwd)
        r = u.getresponse()
        answer = r.read()
        last = path.rsplit("/", 1)[-1]
        with lock:
            lost = method == "POST" and drop.get(last, 0) > 0
            if lost:
                drop[last] -= 1
        if lost:
            print("dropped the answer to %s %s (%d)" % (method, path, r.status), flush=True)
            return
        c.sendall(b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\nConnection: close\r\n\r\n"
                  % (r.status, len(answer)) + answer)

s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(16)
s.settimeout(60)
with open(portfile, "w") as f:
    f.write(str(s.getsockname()[1]))
while True:
    try:
        c, _ = s.accept()
    except socket.timeout:
        sys.exit(0)
    threading.Thread(target=handle, args=(c,), daemon=True).start()
PY
python3 "$T/relay.py" "127.0.0.1:$PORT" "$T/relay.port" >"$T/relay.out" 2>&1 &
RELAY=$!
i=0
until [ -s "$T/relay.port" ]; do
    i=$((i + 1))
    [ $i -gt 100 ] && fail "relay did not start"
    sleep 0.05
done
printf '{"ingestion": {"base_url": "http://127.0.0.1:%s"}}\n' "$(cat "$T/relay.port")" >"$T/job/relay.json"
C=$(job cursor show s)
rc=0
NEXT=2030-01-01T00:00:00.000000 FERRY_API_KEY=$K "$FERRY" --config "$T/job/relay.json" \
    job run lossy -- "$T/job/job.sh" l 2>"$T/l.log" || rc=$?
assert_eq "lost begin and complete answers: exit" 0 "$rc"
rc=0
CODE=1 FERRY_API_KEY=$K "$FERRY" --config "$T/job/relay.json" \
    job run lossy -- sh -c 'exit 4' 2>>"$T/l.log" || rc=$?
assert_eq "lost fail answer: exit" 9 "$rc"
kill $RELAY 2>/dev/null
wait $RELAY 2>/dev/null || true
assert_eq "answers dropped" 3 "$(grep -c '^dropped the answer' "$T/relay.out")"
stream_status lossy "$K"
assert_eq "one run each, nothing refused" "failed:None success:2030-01-01T00:00:00.000000" \
    "$(sf '" ".join("%s:%s" % (h["status"], h["cursor"]) for h in v["history"])')"
assert_eq "the cursor committed through a lost answer" 2030-01-01T00:00:00.000000 "$(sf 'v["cursor"]')"
grep -q "info: job: run [0-9]* of lossy: success" "$T/l.log" || fail "no success line: $(cat "$T/l.log")"
health_ok
