# A job that fails: its run ends "failed" with its error, the failure
# count and last error are updated, the cursor stays where the last
# success left it, and the next run gets that same cursor again. A later
# success moves on. The history keeps each attempt as it ended.
. "$E2E_DIR/runslib.sh"
items_contract
ferryd_migrate
K=$(make_key sync-host)
start_ferryd

run=$(begin_run forms "$K")
end_run "$run" "$K" '{"records": 10, "cursor": "2024-01-15T10:30:00.000000"}'
i=0
while [ $i -lt 2 ]; do
    i=$((i + 1))
    run=$(begin_run forms "$K" odk-sync-1)
    assert_eq "try $i: starts from" 2024-01-15T10:30:00.000000 "$(jq_ 'v["cursor"]')"
    end_run "$run" "$K" "{\"error\": \"upstream answered 503 (try $i)\", \"records\": $i, \"metadata\": {\"try\": $i}}" fail
    assert_eq "try $i: answer" "failed|upstream answered 503 (try $i)|$i|$run" \
        "$(jq_ '"%s|%s|%d|%d" % (v["status"], v["error"], v["records"], v["run"])')"
    stream_status forms "$K"
    assert_eq "try $i: status row" "failed|2024-01-15T10:30:00.000000|1|$i|upstream answered 503 (try $i)" \
        "$(sf '"%s|%s|%d|%d|%s" % (v["status"], v["cursor"], v["successes"], v["failures"], v["last_error"])')"
done
run=$(begin_run forms "$K")
assert_eq "after failures: starts from" 2024-01-15T10:30:00.000000 "$(jq_ 'v["cursor"]')"
end_run "$run" "$K" '{"records": 7, "cursor": "2024-01-16T08:00:00.000000"}'
stream_status forms "$K"
assert_eq "after a success" "success|2024-01-16T08:00:00.000000|2|2|7" \
    "$(sf '"%s|%s|%d|%d|%d" % (v["status"], v["cursor"], v["successes"], v["failures"], v["last_records"])')"
assert_eq "history, newest first" \
    "success:7:2024-01-16T08:00:00.000000:None:None failed:2:None:upstream answered 503 (try 2):{'try': 2} failed:1:None:upstream answered 503 (try 1):{'try': 1} success:10:2024-01-15T10:30:00.000000:None:None" \
    "$(sf '" ".join("%s:%s:%s:%s:%s" % (h["status"], h["records"], h["cursor"], h["error"], h["metadata"]) for h in v["history"])')"
health_ok
