# Offline is the normal case: with ferryd down the app keeps writing, push
# gives up after its retry budget with exit code 5 and the outbox intact;
# once ferryd is back the next push drains everything.
items_contract
ferryd_migrate
KEY=$(make_key edge1)
start_ferryd
agent_init a edge1
stop_ferryd
APP=$T/a/app.db
fill_items "$APP" 300
ferry_in a track items >/dev/null || fail track
app_sql "$APP" "UPDATE items SET qty = 1 WHERE id < 10; DELETE FROM items WHERE id > 290"
assert_exit "exit code when unreachable" 5 ferry_in a push --retry-for 2
grep -q 'retrying in' "$T/agent.log" || fail "no retries logged"
# 300 inserts, 9 updates, 10 deletes: one entry per write until a push
# coalesces them.
assert_eq "outbox kept" 319 "$(app_sql "$APP" 'SELECT count(*) FROM _ferry_outbox')"
# A missing key is an auth failure (exit 4), not something to retry.
saved=$KEY
KEY=
assert_exit "exit code without key" 4 ferry_in a push
KEY=$saved
start_ferryd "$PORT"
# A base_url that is not a ferryd (wrong path: 404 not_found) is an error,
# not a verdict on the rows: nothing is parked, the outbox stays.
sed -i "s|\"base_url\": \"$URL\"|\"base_url\": \"$URL/wrong\"|" "$T/a/config.json"
assert_exit "exit code for a wrong base_url" 1 ferry_in a push
assert_eq "nothing parked" 0 "$(app_sql "$APP" 'SELECT count(*) FROM _ferry_dead')"
sed -i "s|\"base_url\": \"$URL/wrong\"|\"base_url\": \"$URL\"|" "$T/a/config.json"
ferry_in a push >"$T/push.out" 2>>"$T/agent.log" || fail "push after outage"
assert_eq "digest" "$(digest_app "$APP")" "$(digest_store)"
# A revoked key stops the push with exit 4 and keeps the outbox.
"$FERRYD" --store "$STORE_URL" keys revoke "$(echo "$KEY" | cut -c4-19)" >/dev/null
app_sql "$APP" "INSERT INTO items (id, name) VALUES (5000, 'x')"
assert_exit "exit code with revoked key" 4 ferry_in a push
assert_eq "outbox kept on 401" 1 "$(app_sql "$APP" 'SELECT count(*) FROM _ferry_outbox')"
