# A runner (python3, tests/e2e/runs.py runner) begins a run with a lease of
# one second and heartbeats every 0.3 s, and is killed with SIGKILL at a
# random moment, three times. While its lease lasts another begin is
# refused naming it; once the lease passed, the next begin records the
# dead run abandoned and starts from the last committed cursor, never one
# the dead run meant to commit: its late complete is refused run_finished.
. "$E2E_DIR/runslib.sh"
items_contract
ferryd_migrate
K=$(make_key sync-host)
start_ferryd

run=$(begin_run forms "$K")
end_run "$run" "$K" '{"records": 5, "cursor": "c0"}'
committed=c0
round=0
while [ $round -lt 3 ]; do
    round=$((round + 1))
    out=$T/runner.$round
    python3 "$RUNS_PY" runner "$URL" "$K" forms 1 0.3 "$out" 2>>"$T/runner.log" &
    pid=$!
    i=0
    until [ -s "$out" ]; do
        i=$((i + 1))
        [ $i -gt 100 ] && fail "round $round: the runner did not begin"
        sleep 0.05
    done
    head -n 1 "$out" >"$out.begin"
    assert_eq "round $round: the runner's begin" 201 "$(jq_ 'v["status"]' "$out.begin")"
    assert_eq "round $round: the runner starts from" "$committed" "$(jq_ 'v["body"]["cursor"]' "$out.begin")"
    dead=$(jq_ 'v["body"]["run"]' "$out.begin")
    # Mid-run: after a few heartbeats, at a random moment between them.
    sleep_ms "$(rand_ms 700 1500)"
    kill -9 $pid
    wait $pid 2>/dev/null || true
    beats=$(($(wc -l <"$out") - 1))
    [ $beats -ge 1 ] || fail "round $round: no heartbeat before the kill"
    # The last heartbeat answered (one cut off by the kill may have moved
    # the lease on since: the 409 below says the real end).
    seen=$(tail -n 1 "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["body"]["lease"]["expires_at"])')

    # The lease outlives its runner: refused, naming the dead run.
    st=$(rq POST /v1/streams/forms/runs "$K" '{"instance": "next"}')
    if [ "$st" = 409 ]; then
        assert_eq "round $round: refused as" lease_held "$(jq_ 'v["error"]["code"]')"
        assert_eq "round $round: held by" "$dead" "$(jq_ 'v["error"]["run"]')"
        until_=$(jq_ 'v["error"]["expires_at"]')
        ts_ge "$until_" "$seen" ||
            fail "round $round: held until $until_, before the last heartbeat's $seen"
    else
        fail "round $round: a begin right after the kill answered $st: $(cat "$T/resp.json")"
    fi
    # Then, once it passed, the next begin gets the committed cursor.
    i=0
    while :; do
        st=$(rq POST /v1/streams/forms/runs "$K" '{"instance": "next", "lease_seconds": 30}')
        [ "$st" = 201 ] && break
        assert_eq "round $round: waiting for the lease ($(cat "$T/resp.json"))" 409 "$st"
        i=$((i + 1))
        [ $i -gt 50 ] && fail "round $round: the lease never expired"
        sleep 0.1
    done
    next=$(jq_ 'v["run"]')
    assert_eq "round $round: the next run starts from" "$committed" "$(jq_ 'v["cursor"]')"
    started=$(jq_ 'v["started_at"]')
    ts_ge "$started" "$until_" ||
        fail "round $round: began at $started, before the dead lease ended at $until_"
    stream_status forms "$K" 10
    assert_eq "round $round: the dead run in history" abandoned \
        "$(sf "[h['status'] for h in v['history'] if h['run'] == $dead][0]")"
    # The dead run's work arrives late (a zombie): refused, nothing kept.
    st=$(rq POST "/v1/runs/$dead/complete" "$K" '{"records": 99, "cursor": "dead"}')
    assert_eq "round $round: late complete" 409 "$st"
    assert_eq "round $round: late complete code" run_finished "$(jq_ 'v["error"]["code"]')"
    assert_eq "round $round: late complete says" abandoned "$(jq_ 'v["error"]["status"]')"
    end_run "$next" "$K" "{\"records\": $round, \"cursor\": \"c$round\"}"
    committed=c$round
done

stream_status forms "$K" 100
assert_eq "cursor" c3 "$(sf 'v["cursor"]')"
assert_eq "successes, failures" "4 3" "$(sf '"%d %d" % (v["successes"], v["failures"])')"
assert_eq "history" "success abandoned success abandoned success abandoned success" \
    "$(sf '" ".join(h["status"] for h in v["history"] if h["status"] != "refused")')"
assert_eq "nothing of the dead runs kept" "c3 c2 c1 c0" \
    "$(sf '" ".join(h["cursor"] for h in v["history"] if h["status"] == "success")')"
health_ok
