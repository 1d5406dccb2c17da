# stores: sqlite
# docs/internals/capture.md shows the triggers `ferry track heartbeat`
# installs "verbatim": they must be exactly what sqlite_master holds.
URL=http://127.0.0.1:9
agent_init a edge1
app_sql "$T/a/app.db" "CREATE TABLE heartbeat (id INTEGER PRIMARY KEY, at TEXT)"
ferry_in a track heartbeat >/dev/null || fail track
DOC=$E2E_DIR/../../docs/internals/capture.md
awk '/<!-- triggers:heartbeat/ { on = 1; next }
     on && /^```sql/ { inblock = 1; next }
     inblock && /^```/ { exit }
     inblock { print }' "$DOC" >"$T/doc.sql"
[ -s "$T/doc.sql" ] || fail "no triggers:heartbeat block in $DOC"
app_sql "$T/a/app.db" "SELECT sql FROM sqlite_master WHERE type = 'trigger'
    ORDER BY CASE substr(name, 9, 1) WHEN 'i' THEN 1 WHEN 'u' THEN 2 ELSE 3 END" >"$T/db.sql"
diff -u "$T/doc.sql" "$T/db.sql" >&2 || fail "docs/internals/capture.md shows other triggers than ferry track installs"
