# Each of the fault proxy's faults on demand, on one request of each flow
# (a push, a blob upload, a pull page, a run's begin and complete): the
# command retries through it and exits 0, the data is exact, nothing is
# applied twice. A replayed request whose client hears the duplicate's
# answer: a push is skipped, an upload's second PUT is refused, a
# complete hears 409 run_finished (success) and `ferry job run` still
# counts the run as done (it exited 1 before), and logs the cursor it
# committed (a retried complete logged the old one). A blackhole costs the
# agent one timeout_s (3 s here), never a hang.
. "$E2E_DIR/netlib.sh"
KINDS="reset_request reset_response cut_headers cut_body blackhole replay"
DATA_KINDS="$KINDS latency slow"

net_setup 50 3
net_proxy --random off --rate 65536
net_ctl replay second >/dev/null
files_point a "$NET_URL"
files_point b "$NET_URL"
mkdir -p "$T/shots"

# one KIND PREFIX WHAT CMD...: CMD through exactly one fault KIND on the
# first request matching PREFIX; exits 0 within 60 s
one() {
    _kind=$1 _prefix=$2 _what=$3
    shift 3
    _before=$(net_count "$_kind")
    net_ctl once "$_kind" "$_prefix" >/dev/null
    _t0=$(date +%s)
    _rc=0
    "$@" >"$T/one.out" 2>>"$T/agent.log" || _rc=$?
    assert_eq "$_what through $_kind: exit ($(tail -n 3 "$T/agent.log"))" 0 "$_rc"
    assert_eq "$_what: the proxy injected $_kind" $((_before + 1)) "$(net_count "$_kind")"
    [ $(($(date +%s) - _t0)) -le 60 ] || fail "$_what through $_kind took over 60 s"
}

n=0
for kind in $DATA_KINDS; do
    # A push: the batch is applied once, the outbox drains.
    n=$((n + 1))
    app_sql "$APPA" "INSERT OR REPLACE INTO items VALUES ($n, 'push $kind', $n, $n.25, randomblob($n));
        UPDATE items SET qty = qty + 1 WHERE id < $n; DELETE FROM items WHERE id = $n - 3"
    KEY=$KA one "$kind" "POST /v1/push" "push" ferry_in a push
    case $kind in replay | latency | slow) ;; *) grep -q ' [1-9][0-9]* retr' "$T/one.out" ;; esac ||
        fail "push through $kind: no retry: $(cat "$T/one.out")"
    assert_eq "push through $kind: digest" "$(digest_app "$APPA")" "$(digest_store)"

    # A file: the upload's PUT faulted; the blob arrives whole.
    head -c $((200000 + n)) /dev/urandom >"$T/shots/$n.bin"
    app_sql "$APPA" "INSERT INTO screenshots VALUES ($n, 'now', '$T/shots/$n.bin')"
    KEY=$KA one "$kind" "PUT /v1/blobs/" "upload" ferry_in a push
    sha=$(store_sql "SELECT image_sha256 FROM screenshots WHERE id = $n")
    assert_eq "upload through $kind: sha256 of the row" "$(files_sha "$T/shots/$n.bin")" "$sha"
    KEY=$KA files_get "$sha" "$T/got.bin"
    assert_eq "upload through $kind: the blob" "$sha" "$(files_sha "$T/got.bin")"

    # A pull page: b ends with the store's rows.
    KEY=$KB one "$kind" "GET /v1/changes" "pull" ferry_in b pull
    assert_eq "pull through $kind: digest" "$(digest_store)" "$(digest_app "$APPB")"
done

for d in a b; do
    app=$T/$d/app.db
    assert_eq "$d: outbox drained" 0 "$(app_sql "$app" 'SELECT count(*) FROM _ferry_outbox')"
    assert_eq "$d: nothing dead" 0 "$(app_sql "$app" 'SELECT count(*) FROM _ferry_dead')"
done
next=$(app_sql "$APPA" "SELECT value FROM _ferry_state WHERE key = 'next_seq'")
[ "$(device_changes dev-a)" -le $((next - 1)) ] ||
    fail "more changes applied ($(device_changes dev-a)) than numbered ($((next - 1)))"

# Runs: `ferry job run` with its begin, then its complete, faulted. The
# stream's cursor counts the committed runs: each run commits once.
mkdir -p "$T/job"
cat >"$T/job/config.json" <<JSON
{"ingestion": {"enabled": true, "mode": "api",
  "api": {"base_url": "$NET_URL", "auth_header": "X-Api-Key"}},
 "ferry": {"timeout_s": 3}}
JSON
cat >"$T/job/job.sh" <<'SH'
#!/bin/sh
echo "records=1" >>"$FERRY_REPORT"
echo "cursor=$((${FERRY_CURSOR:-0} + 1))" >>"$FERRY_REPORT"
SH
chmod +x "$T/job/job.sh"
job() {
    FERRY_API_KEY=$KJ "$FERRY" --config "$T/job/config.json" job run counter \
        -- "$T/job/job.sh"
}
runs=0
for kind in $KINDS; do
    for step in "POST /v1/streams/counter/runs" "POST /v1/runs/"; do
        runs=$((runs + 1))
        one "$kind" "$step" "job run ($step)" job
        curl -s -H "X-Api-Key: $KJ" "$URL/v1/status?stream=counter&history=0" >"$T/st.json"
        assert_eq "job run through $kind ($step): the stream's cursor" "$runs" \
            "$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["streams"][0]["cursor"])' "$T/st.json")"
        # ...and its log line names the cursor it committed
        grep 'info: job: run' "$T/agent.log" | tail -n 1 |
            grep -q ": success, 1 record, cursor $runs, " ||
            fail "job run through $kind ($step): $(grep 'info: job: run' "$T/agent.log" | tail -n 1)"
    done
done
net_stop
note "faults: $(net_summary)"
