# labels: slow
# stores: sqlite
# (an export reads only the agent's own SQLite app database: the store
# plays no part, so the scenario runs once.)
#
# A large export (100,000 users with children) killed with SIGKILL while
# it writes leaves the -o file as it was: the document goes to a temp file
# next to it, renamed only once whole and fsynced. The export run to its
# end gives every record, and its memory stays flat: the same peak for
# 10,000 and for 100,000 records (one record at a time in memory).
FIX=$E2E_DIR/fixtures
MAP=$FIX/export-users.mapping.json
DB=$T/app.db
N=100000

sqlite3 -bail "$DB" <"$FIX/export-users.sql" || fail "schema"
# fill N: N users, each with 3 preferences, 2 books (one with 2 notes),
# reading settings and a tag.
fill() {
    sqlite3 -bail "$DB" "
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n
        WHERE i < $1)
    INSERT INTO users SELECT printf('user%07d@example.com', i),
        'KindleAVD_' || i, '2025-03-01T09:30:00Z', i % 2, i / 7.0,
        CASE WHEN i % 3 = 0 THEN NULL ELSE 'nick ☕ ' || i END FROM n;
    INSERT INTO reading_settings SELECT email, 'dark', 12 FROM users;
    INSERT INTO user_preferences SELECT email, 'startup_page', '\"library\"'
        FROM users;
    INSERT INTO user_preferences SELECT email, 'sort',
        '{\"by\":\"title\",\"desc\":false}' FROM users;
    INSERT INTO user_preferences SELECT email, 'zoom', '1.25' FROM users;
    INSERT INTO recent_books SELECT email, 0, 'B00X1', 'Dune', 0.42 FROM users;
    INSERT INTO recent_books SELECT email, 1, 'B00X2', 'Emma', NULL FROM users;
    INSERT INTO book_notes SELECT email, 0, 0, 'great' FROM users;
    INSERT INTO book_notes SELECT email, 0, 1, 'long' FROM users;
    INSERT INTO user_tags SELECT email, 0, 'sci-fi' FROM users" ||
        fail "fill"
}

# peak_kb OUT: the export's peak resident memory in KiB. Under
# AddressSanitizer freed memory waits in a quarantine (256 MB by default)
# before reuse: a small one keeps the peak about what the export holds.
peak_kb() {
    ASAN_OPTIONS=${ASAN_OPTIONS:-}:quarantine_size_mb=4 /usr/bin/time -f %M -o "$T/time.out" "$FERRY" export json \
        --mapping "$MAP" --db "$DB" -o "$1" 2>>"$T/agent.log" ||
        fail "export: $(tail -n 2 "$T/agent.log")"
    tail -n 1 "$T/time.out"
}

fill 10000
small=$(peak_kb "$T/small.json")
sqlite3 "$DB" "DELETE FROM users; DELETE FROM reading_settings;
    DELETE FROM user_preferences; DELETE FROM recent_books;
    DELETE FROM book_notes; DELETE FROM user_tags"
fill $N

echo '{"old": "document"}' >"$T/out.json"
cp "$T/out.json" "$T/old.json"
kills=0
for delay_ms in 50 150 400; do
    "$FERRY" export json --mapping "$MAP" --db "$DB" -o "$T/out.json" \
        2>>"$T/agent.log" &
    pid=$!
    sleep_ms $delay_ms
    # Only a kill while the temp file is being written tests anything.
    if kill -0 $pid 2>/dev/null && ls "$T"/out.json.tmp.* >/dev/null 2>&1; then
        kills=$((kills + 1))
    fi
    kill -9 $pid 2>/dev/null || true
    wait $pid 2>/dev/null || true
    cmp -s "$T/out.json" "$T/old.json" ||
        fail "out.json changed by an export killed after $delay_ms ms"
done
[ $kills -gt 0 ] || fail "no kill fell while the export was writing"
leftover=$(ls "$T"/out.json.tmp.* | wc -l)
note "$kills kills during the write; out.json untouched; $leftover temp files left"
rm -f "$T"/out.json.tmp.*

big=$(peak_kb "$T/out.json")
python3 - "$T/out.json" $N <<'PY' || fail "the whole export is not the whole document"
import json, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
n = int(sys.argv[2])
assert len(d) == n, len(d)
u = d["user%07d@example.com" % n]
assert u["recent_books"][0]["notes"] == ["great", "long"], u
assert u["preferences"] == {"startup_page": "library", "zoom": 1.25,
                            "sort": {"by": "title", "desc": False}}, u
assert list(d)[:2] == ["user0000001@example.com", "user0000002@example.com"]
PY
[ -z "$(ls "$T"/out.json.tmp.* 2>/dev/null)" ] || fail "a finished export left its temp file"
size=$(wc -c <"$T/out.json")
note "peak memory: $small KiB for 10000 records, $big KiB for $N ($size bytes)"
# Flat: ten times the records may not cost more than a few MiB more.
[ "$big" -lt $((small + 8192)) ] || fail "memory grows with the document: $small KiB -> $big KiB"
