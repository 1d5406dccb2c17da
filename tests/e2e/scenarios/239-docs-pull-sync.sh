# stores: sqlite
# docs/commands.md, ferry pull and ferry sync: each synopsis is what --help
# prints, the summary lines have the documented shape (numbers aside), and
# a server that cannot be reached is exit 5 for both, as documented.
CM=docs/commands.md
unset FERRY_API_KEY FERRY_CONFIG
export FERRY_LOG=
cd "$T"

pull_usage_of() {
    "$@" --help | awk 'NR > 1 && !/^ / { exit } { print }' |
        sed 's/^usage: //' | tr '\n' ' ' | tr -s ' ' | sed 's/ $//'
}
for cmd in pull sync; do
    doc=$(docs_block $CM "usage-$cmd" | tr '\n' ' ' | tr -s ' ' | sed 's/ $//')
    [ -n "$doc" ] || fail "no example 'usage-$cmd' in $CM"
    assert_eq "$CM: synopsis of $cmd vs --help" "$doc" "$(pull_usage_of "$FERRY" $cmd)"
done

# An agent whose server is a closed port.
sqlite3 app.db "PRAGMA journal_mode=WAL; CREATE TABLE items (id INTEGER PRIMARY KEY, v TEXT)" >/dev/null
"$FERRY" --config config.json init --db app.db --url http://127.0.0.1:9 \
    --device d1 --force >/dev/null || fail "init"
"$FERRY" --config config.json track items >/dev/null || fail "track"
export FERRY_API_KEY=k
shape() { sed 's/[0-9][0-9]*/N/g'; }
rc=0
"$FERRY" --config config.json pull --retry-for 0 >pull.out 2>pull.err || rc=$?
assert_eq "pull, server unreachable: exit" 5 "$rc"
assert_eq "pull summary shape" "$(docs_block $CM pull-summary | shape)" "$(shape <pull.out)"
rc=0
"$FERRY" --config config.json sync --retry-for 0 >sync.out 2>sync.err || rc=$?
assert_eq "sync, server unreachable: exit" 5 "$rc"
assert_eq "sync summary shape" "$(docs_block $CM sync-summary | shape)" "$(shape <sync.out)"
for f in ferry-sync.service ferry-sync-every.service ferry-sync-every.timer; do
    [ -s "$DOCS_ROOT/docs/systemd/$f" ] || fail "docs/systemd/$f missing"
    grep -q "docs/systemd/$f" "$DOCS_ROOT/$CM" || fail "$CM does not say how to install $f"
done
grep -q 'ExecStart=.* sync --watch' "$DOCS_ROOT/docs/systemd/ferry-sync.service" ||
    fail "ferry-sync.service does not run sync --watch"
