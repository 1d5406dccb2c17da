#!/bin/sh
# Lines of SQL text in the store's C files at two revisions: lines holding a
# string literal with SQL in it. How the "SQL written twice" figure of the
# store is measured (docs/internals/store.md).
#   tools/sql_lines.sh [REV1] [REV2]   (default 87aa1f2 HEAD)
sqllines() {
    git show "$1:$2" 2>/dev/null | grep -cE '"[^"]*(SELECT|INSERT|UPDATE|DELETE|CREATE|ALTER|FROM|WHERE|SET |VALUES|CONFLICT|RETURNING|PRIMARY|NOT NULL|bigint|INTEGER|TEXT|text |coalesce|excluded|EXCLUDED|ORDER BY|COMMIT|BEGIN|ROLLBACK|unixepoch|now\(\)|\?[0-9]|\$[0-9])'
}
for rev in "${1:-87aa1f2}" "${2:-HEAD}"; do
    echo "== $rev"
    for f in lib/store/sqlite.c lib/store/pg.c lib/store/sql.c lib/store/internal.c lib/store/keys.c; do
        printf '%-22s %4s sql lines, %4s lines\n' "$f" "$(sqllines "$rev" "$f")" \
            "$(git show "$rev:$f" 2>/dev/null | wc -l)"
    done
done
