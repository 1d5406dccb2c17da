# Every key keeps its exact identity from capture to push: a generated
# family of tables (key shapes x declared types and affinities) holding odd
# values (reals whose 15-digit text form does not round-trip, -0.0, huge and
# tiny reals, blobs, empty and long text, untyped mixtures, NOCASE text)
# is inserted, updated, re-keyed and partly deleted; after each push the
# store holds exactly the app's rows and nothing was parked.
URL=http://127.0.0.1:9 # a placeholder until ferryd runs
agent_init a edge1
APP=$T/a/app.db
app_sql "$APP" "
CREATE TABLE vals (x);
INSERT INTO vals VALUES (0.1 + 0.2), (123456789.123456789), (1e300),
  (-1.5e-300), (1.0 / 3), (9007199254740993.0), (-0.0), (2.5), (0),
  (-1), (9223372036854775807), (''), ('ü'), ('a''b'), (printf('%.600c', 'z')),
  ('007'), (x'00ff'), (x'');
CREATE TABLE k_text_real (a TEXT, b REAL, v INTEGER, PRIMARY KEY (a, b));
CREATE TABLE k_int_real (a INTEGER, b REAL, v INTEGER, PRIMARY KEY (a, b));
CREATE TABLE k_untyped (a, b, v INTEGER, PRIMARY KEY (a, b));
CREATE TABLE k_numeric (a NUMERIC, b TEXT, v INTEGER, PRIMARY KEY (a, b));
CREATE TABLE k_blob (a BLOB, b INTEGER, v INTEGER, PRIMARY KEY (a, b));
CREATE TABLE k_nocase (a TEXT COLLATE NOCASE, b INTEGER, v INTEGER,
  PRIMARY KEY (a, b));
CREATE TABLE k_real (r REAL PRIMARY KEY, v INTEGER);
CREATE TABLE k_any (k PRIMARY KEY, v INTEGER);
INSERT OR IGNORE INTO k_text_real SELECT 't' || rowid, x, rowid FROM vals
  WHERE typeof(x) IN ('real', 'integer');
INSERT OR IGNORE INTO k_int_real SELECT rowid, x, rowid FROM vals
  WHERE typeof(x) IN ('real', 'integer');
INSERT OR IGNORE INTO k_untyped SELECT x, rowid, rowid FROM vals
  WHERE typeof(x) <> 'blob';
-- NUMERIC keys hold reals of at most 15 significant digits (ferryd's rule
-- for keys both stores compare alike); REAL columns carry the rest.
INSERT OR IGNORE INTO k_numeric SELECT x, 'n' || rowid, rowid FROM vals
  WHERE typeof(x) = 'integer' OR x IN (2.5, -1.5e-300, 1e300, '007');
INSERT OR IGNORE INTO k_blob SELECT x, rowid, rowid FROM vals WHERE typeof(x) = 'blob';
INSERT OR IGNORE INTO k_blob VALUES (x'deadbeef', 1, 1);
INSERT OR IGNORE INTO k_nocase VALUES ('abc', 1, 1), ('Straße', 2, 2), ('x', 3, 3);
INSERT OR IGNORE INTO k_real SELECT x, rowid FROM vals WHERE typeof(x) = 'real';
INSERT OR IGNORE INTO k_any SELECT x, rowid FROM vals WHERE typeof(x) <> 'blob';"
TABLES="k_text_real k_int_real k_untyped k_numeric k_blob k_nocase k_real k_any"
# shellcheck disable=SC2086
ferry_in a track $TABLES >/dev/null || fail track
ferry_in a contract -o "$T/contract.json" 2>"$T/contract.err" || fail contract
ferryd_migrate
KEY=$(make_key edge1)
start_ferryd
# init wrote the URL of a ferryd that did not run yet: point it at this one
agent_init a edge1

same_rows() { # WHEN: per table, the store holds as many rows as the app
    for t in $TABLES; do
        assert_eq "$1: rows of $t" "$(app_sql "$APP" "SELECT count(*) FROM $t")" \
            "$(store_sql "SELECT count(*) FROM $t")"
        assert_eq "$1: sum of v in $t" \
            "$(app_sql "$APP" "SELECT coalesce(sum(v), 0) FROM $t")" \
            "$(store_sql "SELECT coalesce(sum(v), 0) FROM $t")"
    done
    assert_eq "$1: nothing parked" 0 \
        "$(app_sql "$APP" 'SELECT count(*) FROM _ferry_dead')"
    assert_eq "$1: outbox drained" 0 \
        "$(app_sql "$APP" 'SELECT count(*) FROM _ferry_outbox')"
}

ferry_in a push >/dev/null 2>>"$T/agent.log" || fail "first push"
same_rows "inserted"
# The reals that json_array() used to round arrive bit for bit.
assert_eq "0.1+0.2 as a key part" 1 \
    "$(store_sql "SELECT count(*) FROM k_text_real WHERE b = 0.30000000000000004")"
assert_eq "123456789.123456789 as a key" 1 \
    "$(store_sql "SELECT count(*) FROM k_real WHERE r = 123456789.12345679")"

app_sql "$APP" "$(for t in $TABLES; do printf 'UPDATE %s SET v = v + 100;' "$t"; done)"
ferry_in a push >/dev/null 2>>"$T/agent.log" || fail "update push"
same_rows "updated"

# A key changed only in case under NOCASE is a delete plus a new row.
app_sql "$APP" "UPDATE k_nocase SET a = 'ABC' WHERE a = 'abc'"
ferry_in a push >/dev/null 2>>"$T/agent.log" || fail "re-key push"
same_rows "re-keyed"
assert_eq "new spelling stored" 1 "$(store_sql "SELECT count(*) FROM k_nocase WHERE a = 'ABC'")"
assert_eq "old spelling deleted" 0 "$(store_sql "SELECT count(*) FROM k_nocase WHERE a = 'abc'")"

app_sql "$APP" "$(for t in $TABLES; do printf 'DELETE FROM %s WHERE rowid %% 2 = 0;' "$t"; done)"
ferry_in a push >/dev/null 2>>"$T/agent.log" || fail "delete push"
same_rows "deleted"
