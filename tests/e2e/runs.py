"""Clients of ferryd's sync runs API (docs/api.md, "Sync runs") for the e2e
scenarios 245-249: plain urllib, as a job in any language would call it.

  runs.py race URL1 URL2 KEY1 KEY2 STREAM ROUNDS
      two runners begin STREAM at the same moment (one through each URL),
      ROUNDS times: exactly one gets 201, the other 409 lease_held naming
      the winner; the winner completes. Then history must show both
      attempts of every round. Prints one summary line; exits 1 on the
      first violation, saying what it saw.
  runs.py edge URLS KEY STREAMS ROUNDS
      on each of STREAMS (comma-separated) at once, ROUNDS times: begin
      with a lease of 1 s (through the URLs, comma-separated, in turn),
      wait 0.85 to 1.1 s, complete. A complete may land on either side of
      the lease's end, or after ferryd's housekeeping recorded the run
      abandoned: its answer and the store must agree (200: success and
      the cursor committed; 409 lease_expired or run_finished/abandoned:
      abandoned, the cursor not moved). Both sides must have happened.
  runs.py steal URL1 URL2 KEY1 KEY2 STREAM ROUNDS
      ROUNDS times: runner 1 begins STREAM with a lease of 1 s (through
      URL1); 0.9 to 1.1 s later, at the same moment, it heartbeats (odd
      rounds) or completes (even rounds) while runner 2 begins (through
      URL2). Never two runners at once: a heartbeat answered 200 and a
      begin answered 201 in one round is a violation, and a begin that
      gets the lease after a complete answered 200 starts from that
      complete's cursor.
  runs.py runner URL KEY STREAM LEASE_S EVERY_S OUT
      begins STREAM and heartbeats every EVERY_S seconds until killed,
      appending each answer to OUT as one JSON line (status, body, the
      local time). Never completes: the scenario kills it.
  runs.py call METHOD URL PATH KEY [BODY]
      one request; prints "STATUS BODY" (BODY compact JSON, or the raw
      text when the answer is not JSON).
"""
import json
import random
import sys
import threading
import time
import urllib.error
import urllib.request


def call(url, method, path, key=None, body=None, headers=None):
    """(status, parsed JSON or raw text) of one request; body is a value
    sent as JSON, or bytes sent as they are."""
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    req = urllib.request.Request(url + path, data=data, method=method)
    if key:
        req.add_header("X-Api-Key", key)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode("utf-8", "replace")


def die(msg):
    print("runs.py: " + msg, file=sys.stderr)
    sys.exit(1)


def begin(url, key, stream, instance, lease=30):
    return call(url, "POST", "/v1/streams/%s/runs" % stream, key,
                {"instance": instance, "lease_seconds": lease})


def race_round(urls, keys, stream, rnd):
    """Both runners begin at once; returns (winner's index, run id)."""
    barrier = threading.Barrier(2)
    got = [None, None]

    def one(i):
        barrier.wait()
        got[i] = begin(urls[i], keys[i], stream, "runner-%d" % (i + 1))

    threads = [threading.Thread(target=one, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(g[0] for g in got)
    if codes != [201, 409]:
        die("round %d: answers %s, want one 201 and one 409: %s" % (rnd, codes, got))
    w = 0 if got[0][0] == 201 else 1
    run, refused = got[w][1], got[1 - w][1]
    err = refused.get("error", {}) if isinstance(refused, dict) else {}
    if err.get("code") != "lease_held" or err.get("run") != run["run"] \
            or err.get("instance") != "runner-%d" % (w + 1):
        die("round %d: the 409 does not name the winner %s: %s" % (rnd, run, refused))
    return w, run["run"]


def race(url1, url2, key1, key2, stream, rounds):
    urls, keys = (url1, url2), (key1, key2)
    winners = []
    for rnd in range(1, rounds + 1):
        w, run = race_round(urls, keys, stream, rnd)
        st, body = call(urls[w], "POST", "/v1/runs/%d/complete" % run, keys[w],
                        {"records": rnd, "cursor": "round-%d" % rnd})
        if st != 200 or body.get("status") != "success":
            die("round %d: complete of run %d: %s %s" % (rnd, run, st, body))
        winners.append((w, run))
    st, body = call(url1, "GET", "/v1/status?stream=%s&history=100" % stream, key1)
    if st != 200:
        die("status: %s %s" % (st, body))
    s = body["streams"][0]
    check_history(s, winners)
    if (s["cursor"], s["successes"], s["status"]) != ("round-%d" % rounds, rounds, "success"):
        die("status row after %d rounds: %s" % (rounds, {k: v for k, v in s.items() if k != "history"}))
    n1 = sum(1 for w, _ in winners if w == 0)
    print("%d rounds: runner-1 won %d, runner-2 won %d; %d history rows" %
          (rounds, n1, rounds - n1, len(s["history"])))


def check_history(s, winners):
    """Every round left two history rows next to each other (by id): the
    winner's success and the loser's refused attempt."""
    hist = sorted(s["history"], key=lambda h: h["run"])
    if len(hist) != 2 * len(winners):
        die("%d history rows for %d rounds: %s" % (len(hist), len(winners), hist))
    for i, (w, run) in enumerate(winners):
        pair = sorted(hist[2 * i:2 * i + 2], key=lambda h: h["status"])
        want = [("refused", "runner-%d" % (2 - w)), ("success", "runner-%d" % (w + 1))]
        if [(h["status"], h["instance"]) for h in pair] != want or pair[1]["run"] != run:
            die("round %d: history rows %s, want %s (run %d)" % (i + 1, pair, want, run))


def edge_stream(urls, key, stream, rounds, got):
    """One stream's rounds; got[stream] = [(run, answer's outcome)]."""
    rng = random.Random()
    for rnd in range(rounds):
        url = urls[rnd % len(urls)]
        st, body = begin(url, key, stream, "edge", 1)
        if st != 201:
            die("%s round %d: begin answered %s %s" % (stream, rnd, st, body))
        time.sleep(rng.uniform(0.85, 1.1))
        st, ans = call(url, "POST", "/v1/runs/%d/complete" % body["run"], key,
                       {"records": 1, "cursor": "%s-%d" % (stream, rnd)})
        err = ans.get("error", {}) if isinstance(ans, dict) else {}
        if st == 200 and ans.get("status") == "success":
            out = "success"
        elif st == 409 and (err.get("code") == "lease_expired" or
                            (err.get("code"), err.get("status")) == ("run_finished", "abandoned")):
            out = "abandoned"
        else:
            die("%s round %d: complete answered %s %s" % (stream, rnd, st, ans))
        got[stream].append((body["run"], out, "%s-%d" % (stream, rnd)))


def edge(urls, key, streams, rounds):
    got = {s: [] for s in streams}
    threads = [threading.Thread(target=edge_stream, args=(urls, key, s, rounds, got))
               for s in streams]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if any(len(v) != rounds for v in got.values()):
        die("a stream's rounds did not all finish (see above)")
    for stream, runs in got.items():
        st, body = call(urls[0], "GET", "/v1/status?stream=%s&history=1000" % stream, key)
        s = body["streams"][0]
        hist = {h["run"]: h["status"] for h in s["history"]}
        for run, out, _ in runs:
            if hist.get(run) != out:
                die("%s: run %d answered %s, history says %s" % (stream, run, out, hist.get(run)))
        ok = [c for _, out, c in runs if out == "success"]
        want = (ok[-1] if ok else None, len(ok), rounds - len(ok))
        if (s["cursor"], s["successes"], s["failures"]) != want:
            die("%s: cursor, successes, failures %s, want %s" %
                (stream, (s["cursor"], s["successes"], s["failures"]), want))
    outs = [out for runs in got.values() for _, out, _ in runs]
    n = outs.count("success")
    print("%d completes near the lease's end: %d in time, %d too late" % (len(outs), n, len(outs) - n))
    if n == 0 or n == len(outs):
        die("the completes all fell on one side of the lease's end")


def at_once(*fns):
    """Runs the functions in threads released together; their results."""
    barrier = threading.Barrier(len(fns))
    got = [None] * len(fns)

    def one(i):
        barrier.wait()
        got[i] = fns[i]()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(fns))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return got


def steal_round(urls, keys, stream, rnd, rng, committed):
    """One round; returns what happened, as a word for the summary."""
    st, run = begin(urls[0], keys[0], stream, "runner-1", 1)
    if st != 201:
        die("round %d: runner 1's begin answered %s %s" % (rnd, st, run))
    time.sleep(rng.uniform(0.9, 1.1))
    op = "heartbeat" if rnd % 2 else "complete"
    body = b"" if op == "heartbeat" else {"records": 1, "cursor": "r%d" % rnd}
    (a_st, a), (b_st, b) = at_once(
        lambda: call(urls[0], "POST", "/v1/runs/%d/%s" % (run["run"], op), keys[0], body),
        lambda: begin(urls[1], keys[1], stream, "runner-2", 30))
    what = "round %d: runner 1's %s %s %s, runner 2's begin %s %s" % (rnd, op, a_st, a, b_st, b)
    if a_st not in (200, 409) or b_st not in (201, 409):
        die(what)
    if op == "heartbeat" and a_st == 200 and b_st == 201:
        die("two runners at once: " + what)
    if op == "complete" and a_st == 200:
        committed[0] = "r%d" % rnd
    # A begin that got the lease starts from the last committed cursor,
    # including a complete that won the race.
    if b_st == 201 and b["cursor"] != committed[0]:
        die("the begin did not start from the committed cursor %s: %s" % (committed[0], what))
    # Whoever holds the lease now ends their run, for the next round. Both
    # refused is no one: the begin came before the lease's end, the
    # heartbeat or complete after it.
    if b_st == 201:
        holder = (1, b["run"])
    elif op == "heartbeat" and a_st == 200:
        holder = (0, run["run"])
    else:
        holder = None
    if holder:
        st, x = call(urls[holder[0]], "POST", "/v1/runs/%d/complete" % holder[1],
                     keys[holder[0]], {"records": 0})
        if st != 200:
            die("round %d: the holder's complete answered %s %s" % (rnd, st, x))
    return "%s %s/%s" % (op, a_st, b_st)


def steal(url1, url2, key1, key2, stream, rounds):
    rng = random.Random()
    committed = [None]
    seen = [steal_round((url1, url2), (key1, key2), stream, rnd, rng, committed)
            for rnd in range(1, rounds + 1)]
    print("%d rounds at the lease's end: %s" %
          (rounds, ", ".join("%s %d" % (w, seen.count(w)) for w in sorted(set(seen)))))


def runner(url, key, stream, lease, every, out):
    """Begins, then heartbeats until killed; every answer to out."""
    def log(st, body):
        with open(out, "a") as f:
            f.write(json.dumps({"status": st, "body": body, "t": time.time()}) + "\n")

    st, body = begin(url, key, stream, "runner-pid-%d" % __import__("os").getpid(), lease)
    log(st, body)
    if st != 201:
        sys.exit(1)
    while True:
        time.sleep(every)
        hb = call(url, "POST", "/v1/runs/%d/heartbeat" % body["run"], key, b"")
        log(*hb)
        if hb[0] != 200:
            sys.exit(1)


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "race" and len(argv) == 8:
        race(argv[2], argv[3], argv[4], argv[5], argv[6], int(argv[7]))
    elif cmd == "edge" and len(argv) == 6:
        edge(argv[2].split(","), argv[3], argv[4].split(","), int(argv[5]))
    elif cmd == "steal" and len(argv) == 8:
        steal(argv[2], argv[3], argv[4], argv[5], argv[6], int(argv[7]))
    elif cmd == "runner" and len(argv) == 8:
        runner(argv[2], argv[3], argv[4], int(argv[5]), float(argv[6]), argv[7])
    elif cmd == "call" and len(argv) in (6, 7):
        body = argv[6].encode() if len(argv) == 7 else None
        st, got = call(argv[3], argv[2], argv[4], argv[5], body)
        print(st, got if isinstance(got, str) else json.dumps(got, separators=(",", ":")))
    else:
        die("usage: see the comment at the top of runs.py")


if __name__ == "__main__":
    main(sys.argv)
