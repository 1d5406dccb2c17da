# A request flood against one device key does not starve the others
# (docs/configuration.md#rate-limits), with ferryd's defaults: 48 clients
# hammer one key with pushes and reads for 12 s while three agents, each
# with its own key, push 3,000 rows apiece. The flooding key gets at most
# 16 requests in flight and one push at a time (the rest 429 with
# Retry-After), so it never holds the store's few connections: the agents
# finish exactly, ferryd never answers 503 (no request waited out the
# pool), and the agents' time under the flood is printed beside their
# time without it.
items_contract
ferryd_migrate
KEY_F=$(make_key flood-f)
start_ferryd

# agents_push ROUND: agents r1..r3 on their own keys and id ranges, at once
agents_push() {
    pids=
    for n in 1 2 3; do
        KEY=$(make_key "fair-$1-$n")
        agent_init "$1$n" "fair-$1-$n" 100
        app_sql "$T/$1$n/app.db" "CREATE TABLE items (id INTEGER PRIMARY KEY,
            name TEXT, qty INTEGER, price REAL, data BLOB)"
        fill_items "$T/$1$n/app.db" 3000
        app_sql "$T/$1$n/app.db" "UPDATE items SET id = id + $n * 1000000 + $2"
        ferry_in "$1$n" track items >/dev/null || fail track
        ferry_bg "$1$n" push --retry-for 60 >"$T/$1$n.out" 2>"$T/$1$n.log"
        pids="$pids $!"
    done
    for p in $pids; do
        wait "$p" || fail "an agent's push failed: $(cat "$T"/$1?.log | tail -n 5)"
    done
}

t0=$(date +%s%N)
agents_push quiet 0
quiet_ms=$((($(date +%s%N) - t0) / 1000000))

python3 - "$PORT" "$KEY_F" "$T/flood.json" 2>"$T/flood.err" <<'PY' &
import http.client, json, sys, threading, time
port, key, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
counts = {}
lock = threading.Lock()
def flood(i):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    t0 = time.time()
    while time.time() - t0 < 12:
        try:
            if i % 2:
                c.request("POST", "/v1/push", body=b'{"changes":[]}',
                          headers={"X-Api-Key": key,
                                   "Content-Type": "application/json"})
            else:
                c.request("GET", "/v1/contract", headers={"X-Api-Key": key})
            r = c.getresponse(); r.read()
            s = str(r.status)
        except Exception as e:
            s = type(e).__name__
            c.close()
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        with lock:
            counts[s] = counts.get(s, 0) + 1
ts = [threading.Thread(target=flood, args=(i,)) for i in range(48)]
for t in ts: t.start()
for t in ts: t.join()
json.dump(counts, open(out, "w"))
PY
FLOOD=$!
sleep 2
t0=$(date +%s%N)
agents_push flood 100000
flood_ms=$((($(date +%s%N) - t0) / 1000000))
wait $FLOOD || fail "flood script: $(cat "$T/flood.err")"

# The store holds exactly the six agents' rows.
sqlite3 "$T/all.db" "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT,
    qty INTEGER, price REAL, data BLOB)"
for a in quiet1 quiet2 quiet3 flood1 flood2 flood3; do
    sqlite3 "$T/all.db" "ATTACH '$T/$a/app.db' AS a;
        INSERT INTO items SELECT id, name, qty, price, data FROM a.items"
    assert_eq "$a parked nothing" 0 "$(app_sql "$T/$a/app.db" 'SELECT count(*) FROM _ferry_dead')"
done
assert_eq "digest" "$(digest_app "$T/all.db")" "$(digest_store)"
n503=$(grep -c ' 503 ms=' "$T/ferryd.log" || true)
assert_eq "answers 503" 0 "$n503"
python3 - "$T/flood.json" <<'PY' || fail "flood: $(cat "$T/flood.json")"
import json, sys
c = json.load(open(sys.argv[1]))
# The flood was served and limited, nothing else.
assert set(c) <= {"200", "429"}, c
assert c.get("429", 0) > 0 and c.get("200", 0) > 0, c
PY
note "flood on one key: $(cat "$T/flood.json"); three agents x 3,000 rows took $quiet_ms ms alone, $flood_ms ms under the flood"
