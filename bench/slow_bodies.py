#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Memory held by ferryd under slow request bodies (docs/guarantees.md).

Opens CONNS connections to ferryd, each declaring a body of BODY bytes
(without a key unless --key is given) and sending all of it but the last
byte, as fast as ferryd reads it; then holds them open for --hold seconds.
Samples ferryd's resident memory (VmRSS of --pid) all along and prints one
line:

  conns=200 declared=16777216 refused_early=200 sent_mib=0.0 \
      rss_before_kib=... rss_peak_kib=...

Exits 1 when the peak passes --limit-kib (and stops sending at once, so an
unbounded server is not pushed until the machine swaps), else 0.

  bench/slow_bodies.py --port 8080 --pid $(pidof ferryd) --conns 200 \
      --body 16777216 --limit-kib 65536
"""
import argparse
import select
import socket
import sys
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def headers(body, key):
    h = (f"POST /v1/push HTTP/1.1\r\nHost: ferryd\r\n"
         f"Content-Type: application/json\r\nContent-Length: {body}\r\n")
    if key:
        h += f"X-Api-Key: {key}\r\n"
    return (h + "\r\n").encode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--conns", type=int, default=200)
    ap.add_argument("--body", type=int, default=16 << 20)
    ap.add_argument("--key", default="")
    ap.add_argument("--limit-kib", type=int, default=0)
    ap.add_argument("--hold", type=float, default=3.0)
    ap.add_argument("--deadline", type=float, default=60.0)
    a = ap.parse_args()

    before = rss_kib(a.pid)
    peak = before
    chunk = b"x" * 65536
    left = {}    # socket -> body bytes still to send (all but the last)
    answered = set()
    for _ in range(a.conns):
        s = socket.create_connection((a.host, a.port), timeout=10)
        s.sendall(headers(a.body, a.key))
        s.setblocking(False)
        left[s] = a.body - 1
    sent = 0
    over = False
    end = time.monotonic() + a.deadline
    while left and time.monotonic() < end and not over:
        writable = [s for s, n in left.items() if n > 0]
        r, w, _ = select.select(list(left), writable, [], 0.2)
        for s in r:
            # An answer before the body was sent: the server refused early.
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if data.startswith(b"HTTP/1.1 4") or data.startswith(b"HTTP/1.1 5"):
                answered.add(s)
            if not data:
                left.pop(s, None)
        for s in w:
            if s not in left:
                continue
            try:
                n = s.send(chunk[:min(len(chunk), left[s])])
                left[s] -= n
                sent += n
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                left.pop(s, None)
        peak = max(peak, rss_kib(a.pid))
        over = a.limit_kib and peak > a.limit_kib
        if not writable:
            break
    hold_end = time.monotonic() + (0 if over else a.hold)
    while time.monotonic() < hold_end:
        peak = max(peak, rss_kib(a.pid))
        time.sleep(0.1)
    print(f"conns={a.conns} declared={a.body} refused_early={len(answered)}"
          f" sent_mib={sent / 1048576:.1f} rss_before_kib={before}"
          f" rss_peak_kib={peak}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
