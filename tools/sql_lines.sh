#!/bin/sh
# Lines of SQL text in the store's C files at two revisions: lines holding a
# string literal with SQL in it. How the "SQL written twice" figure of the
# store is measured (docs/internals/store.md). For the two backends it also
# says how many of those lines are their dialect word tables (one line per
# token and engine); every other lib/store file is written once for both.
#   tools/sql_lines.sh [REV1] [REV2]   (default 87aa1f2 HEAD)
SQL='"[^"]*(SELECT|INSERT|UPDATE|DELETE|CREATE|ALTER|FROM|WHERE|SET |VALUES|CONFLICT|RETURNING|PRIMARY|NOT NULL|bigint|INTEGER|TEXT|text |coalesce|excluded|EXCLUDED|ORDER BY|COMMIT|BEGIN|ROLLBACK|unixepoch|now\(\)|\?[0-9]|\$[0-9])'
sqllines() {
    git show "$1:$2" 2>/dev/null | grep -cE "$SQL"
}
# The lines of the `*_words[] = { ... };` tables only.
wordlines() {
    git show "$1:$2" 2>/dev/null |
        awk '/_words\[\] = \{/ { w = 1 } w { print } w && /^};/ { w = 0 }' |
        grep -cE "$SQL"
}
for rev in "${1:-87aa1f2}" "${2:-HEAD}"; do
    echo "== $rev"
    total=0
    for f in lib/store/sqlite.c lib/store/pg.c; do
        n=$(sqllines "$rev" "$f")
        total=$((total + n))
        printf '%-22s %4s sql lines (%s in dialect words), %4s lines\n' "$f" \
            "$n" "$(wordlines "$rev" "$f")" "$(git show "$rev:$f" 2>/dev/null | wc -l)"
    done
    echo "backends: $total sql lines"
    once=0
    for f in $(git ls-tree --name-only "$rev" lib/store/ | grep '\.c$'); do
        case $f in lib/store/sqlite.c | lib/store/pg.c) continue ;; esac
        n=$(sqllines "$rev" "$f")
        [ "$n" -gt 0 ] || continue
        once=$((once + n))
        printf '%-22s %4s sql lines, %4s lines\n' "$f" "$n" \
            "$(git show "$rev:$f" | wc -l)"
    done
    echo "written once: $once sql lines"
done
