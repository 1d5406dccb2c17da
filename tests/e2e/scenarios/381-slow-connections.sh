# Hundreds of idle or slow connections (docs/configuration.md#connections)
# do not stop others from being served. From two other loopback addresses,
# 300 connections that send a request head one byte a second and 300 that
# send nothing (slowloris): each address holds at most
# max_connections_per_ip, the rest are turned away at once; every
# connection whose head has not arrived within request_timeout is closed
# (libmicrohttpd's own timeout is an idle one, which one byte a second
# never trips). Meanwhile a client on 127.0.0.1 is answered and an agent
# pushes, and afterwards ferryd holds no slow connection and serves on.
# Takes about 25 s.
items_contract
ferryd_migrate
KEY=$(make_key slow-1)
cat >"$T/ferryd.json" <<'EOF2'
{"max_connections": 400, "max_connections_per_ip": 100,
 "request_timeout": 4, "connection_timeout": 60}
EOF2
FERRYD_ARGS="--config $T/ferryd.json"
start_ferryd

python3 - "$PORT" "$T/attack.json" >"$T/attack.out" 2>&1 <<'PY' &
import json, socket, sys, threading, time
port, out = int(sys.argv[1]), sys.argv[2]
HEAD = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 64 + b"\r\n\r\n"
stats = {"refused": 0, "closed_by_server": 0, "still_open": 0}
lock = threading.Lock()
def count(k):
    with lock:
        stats[k] += 1
def conn(src, drip):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5,
                                     source_address=(src, 0))
    except OSError:
        count("refused"); return
    s.settimeout(1.0)
    t0 = time.time()
    i = 0
    try:
        while time.time() - t0 < 15:
            if drip and i < len(HEAD) - 4:
                s.send(HEAD[i:i + 1]); i += 1
            try:
                if s.recv(4096) == b"":
                    count("closed_by_server"); return
            except socket.timeout:
                pass
        count("still_open")
    except (ConnectionResetError, BrokenPipeError):
        count("closed_by_server")
    finally:
        s.close()
threads = []
for src, drip in (("127.0.0.2", True), ("127.0.0.3", False)):
    for _ in range(300):
        t = threading.Thread(target=conn, args=(src, drip)); t.start()
        threads.append(t)
for t in threads:
    t.join()
# A connection accepted past the per-address limit is closed at once
# without a byte, which looks the same as one the server closed later.
json.dump(stats, open(out, "w"))
PY
ATTACK=$!
sleep 3
# While the attack holds its connections: others are served.
t0=$(date +%s%N)
for i in $(seq 1 10); do
    health_ok || fail "health during the attack ($i)"
done
agent_init a slow-1 200
APP=$T/a/app.db
fill_items "$APP" 2000
ferry_in a track items >/dev/null || fail track
ferry_in a push --retry-for 30 >"$T/push.out" 2>"$T/agent.log" ||
    fail "push during the attack: $(tail -n 5 "$T/agent.log")"
ms=$((($(date +%s%N) - t0) / 1000000))
assert_eq "digest" "$(digest_app "$APP")" "$(digest_store)"
wait $ATTACK || fail "attack script: $(cat "$T/attack.out")"
cat "$T/attack.json" >&2
python3 - "$T/attack.json" <<'PY' || fail "attack: $(cat "$T/attack.json")"
import json, sys
s = json.load(open(sys.argv[1]))
# 600 tried; none outlived the head deadline (15 s > 4 s + sweep).
assert s["still_open"] == 0, s
assert s["closed_by_server"] + s["refused"] == 600, s
PY
cut=$(grep -c 'no complete request head within 4 s' "$T/ferryd.log" || true)
# Each address kept 100 (the per-address limit): those were cut by the
# deadline; the others never got in.
[ "$cut" -ge 190 ] && [ "$cut" -le 200 ] || fail "connections cut by the deadline: $cut"
note "600 slow or idle connections from two addresses: $cut held then cut at the 4 s head deadline, the rest turned away; 10 health checks and a 2,000-row push meanwhile took $ms ms"
health_ok || fail "health after the attack"
