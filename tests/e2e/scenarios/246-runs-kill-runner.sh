# labels: slow
# A runner holding a run is killed with SIGKILL at a random moment: three
# times a python3 runner (tests/e2e/runs.py runner: a lease of one second,
# a heartbeat every 0.3 s), then `ferry job run --lease 1` while its job
# works and has written the cursor it means to commit to its report. While
# the lease lasts another begin is refused naming the dead run; once the
# lease passed, the next begin records the dead run abandoned and starts
# from the last committed cursor, never one the dead run meant to commit;
# its late complete is refused run_finished.
. "$E2E_DIR/runslib.sh"
items_contract
ferryd_migrate
K=$(make_key sync-host)
start_ferryd

# after_kill ROUND DEAD [SEEN]: run DEAD's runner is dead (SEEN: the end
# of the lease its last heartbeat answer gave). Checks the above, then
# runs the next run to the end, committing c<ROUND>.
after_kill() {
    # The lease outlives its runner: refused, naming the dead run.
    st=$(rq POST /v1/streams/forms/runs "$K" '{"instance": "next"}')
    assert_eq "round $1: a begin right after the kill ($(cat "$T/resp.json"))" 409 "$st"
    assert_eq "round $1: refused as" lease_held "$(jq_ 'v["error"]["code"]')"
    assert_eq "round $1: held by" "$2" "$(jq_ 'v["error"]["run"]')"
    until_=$(jq_ 'v["error"]["expires_at"]')
    # (A heartbeat cut off by the kill may have moved the lease on since.)
    [ -z "${3:-}" ] || ts_ge "$until_" "$3" ||
        fail "round $1: held until $until_, before the last heartbeat's $3"
    # Then, once it passed, the next begin gets the committed cursor.
    i=0
    while :; do
        st=$(rq POST /v1/streams/forms/runs "$K" '{"instance": "next", "lease_seconds": 30}')
        [ "$st" = 201 ] && break
        assert_eq "round $1: waiting for the lease ($(cat "$T/resp.json"))" 409 "$st"
        i=$((i + 1))
        [ $i -gt 50 ] && fail "round $1: the lease never expired"
        sleep 0.1
    done
    next=$(jq_ 'v["run"]')
    assert_eq "round $1: the next run starts from" "$committed" "$(jq_ 'v["cursor"]')"
    started=$(jq_ 'v["started_at"]')
    ts_ge "$started" "$until_" ||
        fail "round $1: began at $started, before the dead lease ended at $until_"
    stream_status forms "$K" 10
    assert_eq "round $1: the dead run in history" abandoned \
        "$(sf "[h['status'] for h in v['history'] if h['run'] == $2][0]")"
    # The dead run's work arrives late (a zombie): refused, nothing kept.
    st=$(rq POST "/v1/runs/$2/complete" "$K" '{"records": 99, "cursor": "dead"}')
    assert_eq "round $1: late complete" 409 "$st"
    assert_eq "round $1: late complete code" run_finished "$(jq_ 'v["error"]["code"]')"
    assert_eq "round $1: late complete says" abandoned "$(jq_ 'v["error"]["status"]')"
    end_run "$next" "$K" "{\"records\": $1, \"cursor\": \"c$1\"}"
    committed=c$1
}

# wait_file ROUND FILE: until FILE is there and not empty
wait_file() {
    i=0
    until [ -s "$2" ]; do
        i=$((i + 1))
        [ $i -gt 100 ] && fail "round $1: the runner did not begin"
        sleep 0.05
    done
}

run=$(begin_run forms "$K")
end_run "$run" "$K" '{"records": 5, "cursor": "c0"}'
committed=c0
round=0
while [ $round -lt 3 ]; do
    round=$((round + 1))
    out=$T/runner.$round
    python3 "$RUNS_PY" runner "$URL" "$K" forms 1 0.3 "$out" 2>>"$T/runner.log" &
    pid=$!
    wait_file $round "$out"
    head -n 1 "$out" >"$out.begin"
    assert_eq "round $round: the runner's begin" 201 "$(jq_ 'v["status"]' "$out.begin")"
    assert_eq "round $round: the runner starts from" "$committed" "$(jq_ 'v["body"]["cursor"]' "$out.begin")"
    # Mid-run: after a few heartbeats, at a random moment between them.
    sleep_ms "$(rand_ms 700 1500)"
    kill -9 $pid
    wait $pid 2>/dev/null || true
    [ "$(wc -l <"$out")" -ge 2 ] || fail "round $round: no heartbeat before the kill"
    seen=$(tail -n 1 "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["body"]["lease"]["expires_at"])')
    after_kill $round "$(jq_ 'v["body"]["run"]' "$out.begin")" "$seen"
done

# ferry job run, killed: its job has reported the cursor it would commit,
# and keeps working until its parent is gone.
round=4
mkdir -p "$T/job"
printf '{"ingestion": {"base_url": "%s"}}\n' "$URL" >"$T/job/config.json"
cat >"$T/job/job.sh" <<'SH'
#!/bin/sh
printf 'cursor=dead-%s\nrecords=7\n' "$FERRY_RUN_ID" >"$FERRY_REPORT"
echo "$FERRY_RUN_ID $FERRY_CURSOR" >"$JOB_SEEN.tmp"
mv "$JOB_SEEN.tmp" "$JOB_SEEN"
while kill -0 "$PPID" 2>/dev/null; do sleep 0.1; done
SH
JOB_SEEN=$T/job/seen FERRY_API_KEY=$K "$FERRY" --config "$T/job/config.json" \
    job run forms --lease 1 -- sh "$T/job/job.sh" >>"$T/job.out" 2>>"$T/job.log" &
pid=$!
wait_file $round "$T/job/seen"
assert_eq "round $round: the job starts from" "$committed" "$(cut -d' ' -f2 "$T/job/seen")"
sleep_ms "$(rand_ms 700 1500)"
kill -9 $pid
wait $pid 2>/dev/null || true
after_kill $round "$(cut -d' ' -f1 "$T/job/seen")"

stream_status forms "$K" 100
assert_eq "cursor" c4 "$(sf 'v["cursor"]')"
assert_eq "successes, failures" "5 4" "$(sf '"%d %d" % (v["successes"], v["failures"])')"
assert_eq "history" "success abandoned success abandoned success abandoned success abandoned success" \
    "$(sf '" ".join(h["status"] for h in v["history"] if h["status"] != "refused")')"
assert_eq "nothing of the dead runs kept" "c4 c3 c2 c1 c0" \
    "$(sf '" ".join(h["cursor"] for h in v["history"] if h["status"] == "success")')"
health_ok
