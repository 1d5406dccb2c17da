#!/usr/bin/env python3
"""alert_recv.py DIR [FAIL_FIRST]: a fake alert receiver on loopback.

Listens on 127.0.0.1 (a free port, written to DIR/port), takes POSTs,
appends each body it accepts as one line to DIR/alerts.jsonl and each
refused one to DIR/refused.jsonl. The first FAIL_FIRST requests (default
0) are answered 503, to make ferryd retry; the rest 204.
"""
import http.server
import json
import os
import sys

DIR = sys.argv[1]
FAIL = [int(sys.argv[2]) if len(sys.argv) > 2 else 0]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n).decode("utf-8")
        json.loads(body)  # must be JSON; a traceback fails the check below
        ok = FAIL[0] <= 0
        FAIL[0] -= 1
        name = "alerts.jsonl" if ok else "refused.jsonl"
        with open(os.path.join(DIR, name), "a") as f:
            f.write(json.dumps({"ct": self.headers.get("Content-Type"),
                                "body": json.loads(body)}) + "\n")
        self.send_response(204 if ok else 503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
with open(os.path.join(DIR, "port.tmp"), "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(os.path.join(DIR, "port.tmp"), os.path.join(DIR, "port"))
srv.serve_forever()
