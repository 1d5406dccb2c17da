# docs/walkthroughs/report-pipeline.md run as written (ferryd gets
# --listen 127.0.0.1:0 and the script the port it got; on PostgreSQL the
# store's URL replaces sqlite:dashboard.db, as the page says): the NAS script of
# the page (Python requests, the team's own way of writing it) posts a
# report twice and its MP3 through the two aliases; every output the page
# shows is what the binaries print, the row holds the MP3's hash, and the
# blob served back is the file.
RP=docs/walkthroughs/report-pipeline.md
PATH=$(dirname "$FERRY"):$(dirname "$FERRYD"):$PATH
unset FERRY_API_KEY FERRYD_STORE FERRY_CONFIG
export FERRY_LOG= FERRYD_LOG=
mkdir -p "$T/hq"
cd "$T/hq"
# doc_cmd CMD: CMD as the page has it, run on this scenario's store.
doc_cmd() {
    docs_has $RP "$1"
    eval "$(printf '%s' "$1" | sed "s|sqlite:dashboard.db|$STORE_URL|")"
}
[ "$STORE" = pg ] || STORE_URL=sqlite:dashboard.db

# 1. The table and the key.
docs_block $RP rp-contract >contract.json
[ -s contract.json ] || fail "no contract block in $RP"
doc_cmd "ferryd --store sqlite:dashboard.db --contract contract.json migrate" \
    >/dev/null || fail "migrate"
KEY=$(doc_cmd "ferryd --store sqlite:dashboard.db keys create --device nas" 2>/dev/null)
[ -n "$KEY" ] || fail "keys create"

# 2. The aliases.
docs_block $RP rp-settings >ferryd.json
[ -s ferryd.json ] || fail "no settings block in $RP"
docs_has $RP "ferryd --store sqlite:dashboard.db --config ferryd.json serve --listen 127.0.0.1:8080"
docs_serve --store "$STORE_URL" --config ferryd.json

# 3. The script, as the page has it.
docs_block $RP rp-client >nas_sync.py
[ -s nas_sync.py ] || fail "no script block in $RP"
head -c 300000 /dev/urandom >summary.mp3
docs_has $RP "RENDER_DASHBOARD_URL=http://127.0.0.1:8080 INGEST_TOKEN=fy_... python3 nas_sync.py summary.mp3"
RENDER_DASHBOARD_URL=$URL INGEST_TOKEN=$KEY python3 nas_sync.py summary.mp3 \
    >run.out 2>run.err || fail "the script: $(cat run.err)"
DOCS_SED='s/^audio: [0-9a-f]{12}$/audio: SHA/' docs_check $RP rp-run run.out
SHA=$(sha256sum summary.mp3 | cut -c1-64)
assert_eq "the script printed the MP3's hash" "audio: $(echo "$SHA" | cut -c1-12)" \
    "$(tail -n 1 run.out)"
docs_has $RP 'sqlite3 dashboard.db "SELECT video_id, summary, audio_sha256 IS NOT NULL FROM reports"'
if [ "$STORE" = pg ]; then
    store_sql "SELECT video_id, summary, (audio_sha256 IS NOT NULL)::int FROM reports" \
        >row.out || fail "psql"
else
    sqlite3 dashboard.db "SELECT video_id, summary, audio_sha256 IS NOT NULL FROM reports" \
        >row.out || fail "sqlite3"
fi
docs_check $RP rp-row row.out
assert_eq "the row links the MP3" "$SHA" "$(store_sql "SELECT audio_sha256 FROM reports")"
curl -s -H "X-Api-Key: $KEY" -o served.mp3 "$URL/v1/blobs/$SHA" || fail "GET blob"
cmp -s served.mp3 summary.mp3 || fail "the blob served back is not the MP3"
assert_eq "one report" 1 "$(store_sql "SELECT count(*) FROM reports")"
# Posting the same report again: one row still, the answer says updated.
RENDER_DASHBOARD_URL=$URL INGEST_TOKEN=$KEY python3 nas_sync.py summary.mp3 \
    >run2.out 2>run2.err || fail "the script again: $(cat run2.err)"
assert_eq "the second run updates" "report: updated" "$(head -n 1 run2.out)"
assert_eq "still one report" 1 "$(store_sql "SELECT count(*) FROM reports")"

docs_has $RP "curl -s http://127.0.0.1:8080/health"
curl -s "$URL/health" >health.out
DOCS_SED='s/"version":"[^"]*"/"version":"VERSION"/' docs_check $RP rp-health health.out
kill "$FERRYD_PID"
wait "$FERRYD_PID" 2>/dev/null || true
FERRYD_PID=
