# The user-profile team's "atomic concurrent updates" (issue 10): the
# seed's six tables in a hand-written contract (users keyed by email, the
# settings tables by user_email, preferences by user_email and name), and
# 32 processes (not threads) updating the same five users' settings at
# once through the row API, each PATCHing only the column it owns (24
# columns of users and four settings tables) or its own preference (8
# names), round after round, each round's value different. users.json
# lost such updates (every writer rewrote the whole file); here every
# PATCH answers 200 "updated" and at the end every column and every
# preference of every user holds its owner's last value: one lost update
# leaves an earlier round's value. On PostgreSQL the processes are split
# over two ferryd.
own_pg fsync=off
write_contract "$T/contract.json" <<'JSON'
{"version": 1, "tables": [
 {"name": "users", "primary_key": ["email"],
  "columns": [{"name": "email", "type": "text", "not_null": true},
              {"name": "avd_name", "type": "text"},
              {"name": "display_name", "type": "text"},
              {"name": "created_at", "type": "timestamptz"},
              {"name": "last_used", "type": "timestamptz"},
              {"name": "auth_state", "type": "boolean"},
              {"name": "notes", "type": "text"}]},
 {"name": "emulator_settings", "primary_key": ["user_email"],
  "columns": [{"name": "user_email", "type": "text", "not_null": true},
              {"name": "hw_overlays_disabled", "type": "boolean"},
              {"name": "animations_disabled", "type": "boolean"},
              {"name": "sleep_disabled", "type": "boolean"},
              {"name": "memory_optimizations_applied", "type": "boolean"},
              {"name": "memory_optimization_timestamp", "type": "bigint"}]},
 {"name": "device_identifiers", "primary_key": ["user_email"],
  "columns": [{"name": "user_email", "type": "text", "not_null": true},
              {"name": "hw_wifi_mac", "type": "text"},
              {"name": "hw_ethernet_mac", "type": "text"},
              {"name": "serial_number", "type": "text"},
              {"name": "build_id", "type": "text"},
              {"name": "android_id", "type": "text"}]},
 {"name": "library_settings", "primary_key": ["user_email"],
  "columns": [{"name": "user_email", "type": "text", "not_null": true},
              {"name": "view_type", "type": "text"},
              {"name": "group_by_series", "type": "boolean"},
              {"name": "actively_reading_title", "type": "text"},
              {"name": "filter_book_count", "type": "bigint"}]},
 {"name": "reading_settings", "primary_key": ["user_email"],
  "columns": [{"name": "user_email", "type": "text", "not_null": true},
              {"name": "theme", "type": "text"},
              {"name": "font_size", "type": "bigint"},
              {"name": "brightness", "type": "double precision"},
              {"name": "highlight_menu_disabled", "type": "boolean"},
              {"name": "word_wise_disabled", "type": "boolean"}]},
 {"name": "user_preferences", "primary_key": ["user_email", "name"],
  "columns": [{"name": "user_email", "type": "text", "not_null": true},
              {"name": "name", "type": "text", "not_null": true},
              {"name": "value", "type": "jsonb"}]}]}
JSON
ferryd_migrate
: >"$T/keys"
for i in $(seq 0 31); do make_key "writer$i" >>"$T/keys"; done
start_ferryd
URLS=$URL
if [ "$STORE" = pg ]; then
    start_ferryd
    URLS="$URLS $URL"
fi
ROUNDS=${ROUNDS:-12}

cat >"$T/profiles.py" <<'PY'
import datetime, http.client, json, sys, time, urllib.parse

USERS = ["alice@example.com", "bob+kindle@example.com",
         "zoë.ünïcode@example.com", "o'brien@example.com",
         "dan@example.org"]
# The 24 columns and 8 preferences the 32 writers own, one each.
OWNED = [(t, c) for t, cols in [
    ("users", ["avd_name", "display_name", "created_at", "last_used",
               "auth_state", "notes"]),
    ("emulator_settings", ["hw_overlays_disabled", "animations_disabled",
                           "sleep_disabled", "memory_optimizations_applied",
                           "memory_optimization_timestamp"]),
    ("device_identifiers", ["hw_wifi_mac", "hw_ethernet_mac",
                            "serial_number", "build_id", "android_id"]),
    ("library_settings", ["view_type", "group_by_series",
                          "actively_reading_title", "filter_book_count"]),
    ("reading_settings", ["theme", "font_size", "brightness",
                          "highlight_menu_disabled"])] for c in cols]
OWNED += [("user_preferences", "pref%d" % i) for i in range(8)]
assert len(OWNED) == 32
TYPES = {"created_at": "time", "last_used": "time", "auth_state": "bool",
         "hw_overlays_disabled": "bool", "animations_disabled": "bool",
         "sleep_disabled": "bool", "memory_optimizations_applied": "bool",
         "group_by_series": "bool", "highlight_menu_disabled": "bool",
         "memory_optimization_timestamp": "int", "filter_book_count": "int",
         "font_size": "int", "brightness": "real"}

def value(i, col, n):
    """Writer i's value of col in round n: every round's differs."""
    kind = TYPES.get(col, "pref" if col.startswith("pref") else "text")
    if kind == "time":
        return "2026-01-01T00:%02d:%02dZ" % (i, n)
    if kind == "bool":
        return n % 2 == 1
    if kind == "int":
        return 1000 * i + n
    if kind == "real":
        return n + 0.25
    if kind == "pref":
        return {"writer": i, "round": n, "note": "zoë's"}
    return "writer %d round %d" % (i, n)

def key_path(table, email, col):
    key = [email, col] if table == "user_preferences" else email
    text = json.dumps(key) if isinstance(key, list) else key
    return "/v1/tables/%s/rows/%s" % (table, urllib.parse.quote(text, safe=""))

def request(conn, method, path, key, body=None):
    h = {"X-Api-Key": key}
    if body is not None:
        h["Content-Type"] = "application/json"
    for attempt in range(20):
        conn.request(method, path, body=json.dumps(body) if body is not None
                     else None, headers=h)
        r = conn.getresponse()
        data = r.read()
        if r.status != 503:
            return r.status, json.loads(data)
        time.sleep(0.05 * (attempt + 1))
    return r.status, json.loads(data)

def conn_for(url):
    u = urllib.parse.urlparse(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=60)

def setup(url, key):
    c = conn_for(url)
    for table in ["users", "emulator_settings", "device_identifiers",
                  "library_settings", "reading_settings"]:
        kc = "email" if table == "users" else "user_email"
        st, a = request(c, "POST", "/v1/tables/%s/rows" % table, key,
                        [{kc: e} for e in USERS])
        assert st == 200 and a["created"] == len(USERS), (table, st, a)
    st, a = request(c, "POST", "/v1/tables/user_preferences/rows", key,
                    [{"user_email": e, "name": "pref%d" % i, "value": None}
                     for e in USERS for i in range(8)])
    assert st == 200 and a["created"] == 40, (st, a)

def writer(i, url, key, rounds):
    table, col = OWNED[i]
    c = conn_for(url)
    for n in range(1, rounds + 1):
        for e in USERS:
            body = ({"value": value(i, col, n)} if table == "user_preferences"
                    else {col: value(i, col, n)})
            st, a = request(c, "PATCH", key_path(table, e, col), key, body)
            if st != 200 or a.get("result") != "updated":
                print("writer %d %s.%s %s round %d: %d %s"
                      % (i, table, col, e, n, st, a))
                sys.exit(1)

def instant(text):
    """A timestamptz as either store prints it, as a datetime."""
    t = text.replace(" ", "T").replace("Z", "+00:00")
    if t.endswith("+00"):
        t += ":00"
    return datetime.datetime.fromisoformat(t)

def check(url, key, rounds):
    c = conn_for(url)
    bad = 0
    for i, (table, col) in enumerate(OWNED):
        for e in USERS:
            st, a = request(c, "GET", key_path(table, e, col), key)
            got = a["row"]["value" if table == "user_preferences" else col]
            if table == "user_preferences":
                got = json.loads(got) if isinstance(got, str) else got
            want = value(i, col, rounds)
            if isinstance(want, str) and want.endswith("Z"):
                ok = instant(got) == instant(want)
            else:
                ok = got == want
            if not ok:
                bad += 1
                print("lost: %s.%s of %s is %r, writer %d's last was %r"
                      % (table, col, e, got, i, want))
    print("checked %d values, %d lost" % (len(OWNED) * len(USERS), bad))
    sys.exit(1 if bad else 0)

cmd = sys.argv[1]
if cmd == "setup":
    setup(sys.argv[2], sys.argv[3])
elif cmd == "writer":
    writer(int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5]))
else:
    check(sys.argv[2], sys.argv[3], int(sys.argv[4]))
PY

KEY0=$(sed -n 1p "$T/keys")
python3 "$T/profiles.py" setup "$URL" "$KEY0" || fail "set-up rows"
pids=
i=0
for key in $(cat "$T/keys"); do
    set -- $URLS
    [ $((i % 2)) -eq 1 ] && [ $# -eq 2 ] && shift
    python3 "$T/profiles.py" writer $i "$1" "$key" "$ROUNDS" >"$T/writer.$i.out" 2>&1 &
    pids="$pids $!"
    i=$((i + 1))
done
failed=0
for p in $pids; do wait "$p" || failed=$((failed + 1)); done
[ $failed -eq 0 ] || fail "$failed writers failed: $(cat "$T"/writer.*.out | head -n 5)"
python3 "$T/profiles.py" check "$URL" "$KEY0" "$ROUNDS" >"$T/check.out" 2>&1 ||
    fail "$(head -n 10 "$T/check.out")"
note "$(tail -n 1 "$T/check.out") after $((32 * 5 * ROUNDS)) PATCHes by 32 processes"
