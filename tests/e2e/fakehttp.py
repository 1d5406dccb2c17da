"""A fake HTTP server on loopback in front of ferryd, for the e2e scenarios.

A scenario's script decides, request by request, to answer itself or to
forward to ferryd:

    import os, sys
    sys.path.insert(0, os.environ["E2E_DIR"])
    import fakehttp
    fakehttp.serve(portfile, upstream, handle)

handle(hdrs, body, changes) returns None (forward the request to upstream
and pass its answer on), a (status, bytes) pair (a JSON answer), or bytes
(sent as they are: cut or broken answers). changes is the list of the push
body's changes when it is one (gzip undone), else None. The server writes
its port to portfile and exits after `idle` seconds without a connection,
so a failed scenario cannot leave it blocking ctest.
"""
import gzip
import http.client
import json
import socket
import sys

FORWARDED = ("x-api-key", "content-type", "content-encoding", "authorization")


def read_request(c):
    """(headers, body) of one request, or (None, None) when the peer left."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = c.recv(65536)
        if not chunk:
            return None, None
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    hdrs = dict(line.split(": ", 1) for line in lines[1:])
    n = int(hdrs.get("Content-Length", 0))
    while len(body) < n:
        body += c.recv(65536)
    return hdrs, body


def push_changes(hdrs, body):
    try:
        raw = gzip.decompress(body) if hdrs.get("Content-Encoding") == "gzip" else body
        return json.loads(raw)["changes"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def forward(upstream, hdrs, body):
    u = http.client.HTTPConnection(upstream)
    fwd = {k: v for k, v in hdrs.items() if k.lower() in FORWARDED}
    u.request("POST", "/v1/push", body=body, headers=fwd)
    r = u.getresponse()
    return r.status, r.read()


def reply(status, body):
    return (b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n" % (status, len(body))
            + body)


def serve(portfile, upstream, handle, idle=60):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    s.settimeout(idle)
    with open(portfile, "w") as f:
        f.write(str(s.getsockname()[1]))
    while True:
        try:
            c, _ = s.accept()
        except socket.timeout:
            sys.exit(0)
        c.settimeout(10)
        try:
            hdrs, body = read_request(c)
        except (socket.timeout, ValueError):
            hdrs = None
        if hdrs is None:
            c.close()
            continue
        answer = handle(hdrs, body, push_changes(hdrs, body))
        if answer is None:
            answer = forward(upstream, hdrs, body)
        c.sendall(answer if isinstance(answer, bytes) else reply(*answer))
        c.close()
