# Two monitoring agents number their heartbeats 1, 2, 3... on their own.
# The contract `ferry contract` generates keys such a table by (device, id),
# with the device filled by ferryd from the API key: both devices' rows
# 1..N are all in the store, and a delete on one device removes only its
# own row. --global-key keeps a centrally numbered table's key as it is.
N=50
URL=http://127.0.0.1:9 # a placeholder until ferryd runs
for a in pc1 pc2; do
    agent_init "$a" "$a"
    app_sql "$T/$a/app.db" "
      CREATE TABLE heartbeat (id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL, cpu REAL);
      CREATE TABLE codes (code INTEGER PRIMARY KEY, label TEXT);
      WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n
        WHERE i < $N)
      INSERT INTO heartbeat (at, cpu) SELECT '2026-11-30T10:00:00Z', i / 2.0
        FROM n;
      INSERT INTO codes VALUES (1, 'one'), (2, 'two');
      CREATE TABLE k_rowid (id INTEGER PRIMARY KEY, v TEXT);
      CREATE TABLE k_bigint (n BIGINT PRIMARY KEY, v TEXT);
      CREATE TABLE k_pair (a INT, b INTEGER, v TEXT, PRIMARY KEY (a, b));
      CREATE TABLE k_norowid (n INT PRIMARY KEY, v TEXT) WITHOUT ROWID;
      CREATE TABLE k_text (t TEXT PRIMARY KEY, v TEXT);
      CREATE TABLE k_mixed (a INT, t TEXT, v TEXT, PRIMARY KEY (a, t));
      INSERT INTO k_rowid VALUES (1, 'x'), (2, 'y');
      INSERT INTO k_bigint VALUES (1, 'x'), (2, 'y');
      INSERT INTO k_pair VALUES (1, 1, 'x'), (1, 2, 'y');
      INSERT INTO k_norowid VALUES (1, 'x'), (2, 'y');
      INSERT INTO k_text VALUES ('a@example.com', 'x');
      INSERT INTO k_mixed VALUES (1, 'a', 'x');"
    ferry_in "$a" track heartbeat codes k_rowid k_bigint k_pair k_norowid \
        k_text k_mixed >/dev/null || fail "track $a"
done

ferry_in pc1 contract --global-key codes -o "$T/contract.json" \
    2>"$T/contract.err" || fail contract
grep -q "heartbeat: key (id) is numbered by each device" "$T/contract.err" ||
    fail "contract does not say why heartbeat is keyed by device: $(cat "$T/contract.err")"
grep -q "codes" "$T/contract.err" && fail "codes was declared global: $(cat "$T/contract.err")"
assert_eq "heartbeat key" '["device","id"]' "$(python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))
t = {t["name"]: t for t in c["tables"]}
print(json.dumps(t["heartbeat"]["primary_key"], separators=(",", ":")))
print(json.dumps(t["codes"]["primary_key"], separators=(",", ":")))' "$T/contract.json" | head -n 1)"
assert_eq "codes key" '["code"]' "$(python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))
t = {t["name"]: t for t in c["tables"]}
print(json.dumps(t["codes"]["primary_key"], separators=(",", ":")))' "$T/contract.json")"

# The family: keys made only of integers are device-local, whatever their
# shape; any other key is global already.
python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))
for t in c["tables"]:
    print(t["name"], ",".join(t["primary_key"]))' "$T/contract.json" | sort >"$T/keys"
cat >"$T/want" <<'KEYS'
codes code
heartbeat device,id
k_bigint device,n
k_mixed a,t
k_norowid device,n
k_pair device,a,b
k_rowid device,id
k_text t
KEYS
diff -u "$T/want" "$T/keys" >&2 || fail "generated keys"

ferryd_migrate
start_ferryd
for a in pc1 pc2; do
    agent_init "$a" "$a"
    eval "KEY_$a=\$(make_key $a)"
done
push_as() { # AGENT
    eval "KEY=\$KEY_$1"
    ferry_in "$1" push >/dev/null 2>>"$T/agent.log" || fail "push $1"
}
push_as pc1
push_as pc2
assert_eq "both devices' heartbeats" $((2 * N)) "$(store_sql 'SELECT count(*) FROM heartbeat')"
assert_eq "pc1's rows" "$N" "$(store_sql "SELECT count(*) FROM heartbeat WHERE device = 'pc1'")"
assert_eq "codes are one set" 2 "$(store_sql 'SELECT count(*) FROM codes')"
for t in k_rowid k_bigint k_pair k_norowid; do
    assert_eq "$t: both devices' rows" 4 "$(store_sql "SELECT count(*) FROM $t")"
done
for t in k_text k_mixed; do
    assert_eq "$t: one global row" 1 "$(store_sql "SELECT count(*) FROM $t")"
done

app_sql "$T/pc1/app.db" "DELETE FROM heartbeat WHERE id = 3;
  UPDATE heartbeat SET cpu = 99 WHERE id = 4"
push_as pc1
assert_eq "pc1's row 3 deleted" 0 "$(store_sql "SELECT count(*) FROM heartbeat WHERE device = 'pc1' AND id = 3")"
assert_eq "pc2's row 3 kept" 1 "$(store_sql "SELECT count(*) FROM heartbeat WHERE device = 'pc2' AND id = 3")"
assert_eq "pc2's row 4 untouched" 20 "$(store_sql "SELECT cast(cpu * 10 AS integer) FROM heartbeat WHERE device = 'pc2' AND id = 4")"
assert_eq "pc1's row 4 updated" 99 "$(store_sql "SELECT cast(cpu AS integer) FROM heartbeat WHERE device = 'pc1' AND id = 4")"
assert_eq "all but one" $((2 * N - 1)) "$(store_sql 'SELECT count(*) FROM heartbeat')"

# The device column must be a name, and one that some table uses.
assert_exit "--device-column not a name" 2 ferry_in pc1 contract --device-column 'a b'
assert_exit "--region-column nobody has" 2 ferry_in pc1 contract --region-column region
