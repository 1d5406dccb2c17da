"""A loopback HTTP fault proxy for the e2e scenarios (350-359): it sits
between ferry's agents and ferryd and breaks requests on purpose.

  faultproxy.py serve UPSTREAM_PORT PORTFILE STATSFILE [--seed N]
                [--p KIND=PROB ...] [--latency MS] [--jitter MS]
                [--rate BYTES_PER_S] [--random on|off]
      listens on 127.0.0.1 (a free port, written to PORTFILE; its control
      port on the second line) and relays HTTP/1.1 requests to
      127.0.0.1:UPSTREAM_PORT, one message at a time: it reads a whole
      request (Content-Length or chunked; an Expect: 100-continue it
      answers itself), forwards it, reads the whole answer
      (Content-Length, chunked, or until the close) and passes it on,
      keeping connections alive as the peers do.
  faultproxy.py ctl PORTFILE COMMAND...
      one control command; prints the proxy's one-line JSON answer:
        random on|off          faults at random (the --p probabilities)
        once KIND [PREFIX]     the next request whose "METHOD /path"
                               starts with PREFIX gets KIND (queued, in
                               order, before any random choice)
        replay first|second|random
                               which answer a replayed request's client
                               gets (default random)
        stats                  the counts (as in STATSFILE)

Each request gets at most one of these faults (KIND):

  reset_request   part of the request (none to all but one byte) reaches
                  ferryd, then both connections are reset (RST)
  reset_response  the request reaches ferryd whole; part of the answer
                  reaches the client, then it is reset
  cut_headers     the answer stops inside its head: a clean close (FIN)
  cut_body        the answer's head and part of its body, then a FIN (a
                  bodiless answer is cut in its head instead)
  blackhole       the request is read (and forwarded, every other time:
                  ferryd may have applied it) and never answered; the
                  connection stays open until the client gives up
  replay          the request is sent to ferryd twice, one after the
                  other; the client gets one of the two answers, chosen
                  at random (the second one is the answer to a duplicate)
  latency         a delay of --latency ms +- --jitter ms before the
                  request is forwarded and again before the answer
  slow            the request's bytes, both ways, at most --rate bytes/s
                  (a body with a Content-Length streams through at that
                  rate: the client's upload moves slowly, and one it
                  gives up leaves ferryd the part that got through)

latency and slow are drawn on their own and combine with the others.
STATSFILE is JSON, rewritten after every fault and at exit: the count of
each kind, requests relayed, connections, request bytes sent to ferryd
("bytes_up"), and "last_fault" (Unix time of
the last fault injected, for drain times). The seed is printed on stderr;
with the same seed and the same requests the choices are the same.
"""
import asyncio
import json
import os
import random
import signal
import socket
import struct
import sys
import time

KINDS = ("reset_request", "reset_response", "cut_headers", "cut_body",
         "blackhole", "replay", "latency", "slow")
EXCLUSIVE = KINDS[:6]
HEAD_MAX = 1 << 16


class Broken(Exception):
    """A peer closed or sent something that is not HTTP/1.1."""


class Proxy:
    def __init__(self, upstream, stats_path, seed, probs, latency, jitter, rate,
                 random_on):
        self.upstream = upstream
        self.stats_path = stats_path
        self.rng = random.Random(seed)
        self.probs = probs
        self.latency, self.jitter, self.rate = latency, jitter, rate
        self.random_on = random_on
        self.queue = []  # [(kind, prefix)] forced faults
        self.counts = {k: 0 for k in KINDS}
        self.requests = 0
        self.bytes_up = 0  # request bytes written to ferryd
        self.connections = 0
        self.last_fault = None
        self.held = set()  # blackholed client writers
        self.replay_answer = "random"

    # ---- choices and counts ------------------------------------------

    def choose(self, line):
        """(exclusive fault or None, latency?, slow?) for a request line."""
        for i, (kind, prefix) in enumerate(self.queue):
            if line.startswith(prefix):
                del self.queue[i]
                if kind in EXCLUSIVE:
                    return kind, False, False
                return None, kind == "latency", kind == "slow"
        if not self.random_on:
            return None, False, False
        fault, x = None, self.rng.random()
        for kind in EXCLUSIVE:
            x -= self.probs.get(kind, 0.0)
            if x < 0:
                fault = kind
                break
        lat = self.rng.random() < self.probs.get("latency", 0.0)
        slow = self.rng.random() < self.probs.get("slow", 0.0)
        return fault, lat, slow

    def count(self, kind):
        self.counts[kind] += 1
        self.last_fault = time.time()
        self.write_stats()

    def stats(self):
        return {"faults": dict(self.counts), "total": sum(self.counts.values()),
                "requests": self.requests, "connections": self.connections,
                "bytes_up": self.bytes_up,
                "last_fault": self.last_fault, "random": self.random_on}

    def write_stats(self):
        tmp = self.stats_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.stats(), f, sort_keys=True)
            f.write("\n")
        os.replace(tmp, self.stats_path)

    # ---- pacing ------------------------------------------------------

    async def delay(self):
        ms = max(0.0, self.latency + self.rng.uniform(-self.jitter, self.jitter))
        await asyncio.sleep(ms / 1000.0)

    async def send(self, w, data, slow):
        if not slow:
            w.write(data)
            await w.drain()
            return
        step = max(1, self.rate // 20)  # 20 slices a second
        for i in range(0, len(data), step):
            w.write(data[i:i + step])
            await w.drain()
            await asyncio.sleep(len(data[i:i + step]) / self.rate)

    # ---- one client connection ----------------------------------------

    async def client(self, cr, cw):
        self.connections += 1
        up = None
        try:
            while True:
                try:
                    req = await read_message(cr, None, cw, defer=True)
                except Broken:
                    break
                if req is None:
                    break
                self.requests += 1
                up, keep = await self.exchange(req, up, cr, cw)
                if not keep:
                    break
        except (OSError, ValueError, Broken, asyncio.IncompleteReadError,
                asyncio.LimitOverrunError):
            pass  # either peer broke the exchange: both connections end
        finally:
            await close(up)
            if cw in self.held:
                await hold(cr)
                self.held.discard(cw)
            await close((cr, cw))

    async def exchange(self, req, up, cr, cw):
        """Relays one request with its fault; (upstream, keep the client)."""
        fault, lat, slow = self.choose(req["line"])
        streamed = None
        if slow and req["pending"] and fault not in ("reset_request", "blackhole"):
            # The body as a slow link carries it: read from the client at
            # the rate and passed on at once, so either side sees it move
            # and a client that gives up leaves ferryd part of it.
            up, streamed = await self.stream_up(up, req, cr)
        elif req["pending"]:
            req["raw"] += await cr.readexactly(req["pending"])
        raw = req["raw"]
        if lat:
            self.count("latency")
        if slow:
            self.count("slow")
        if fault:
            self.count(fault)
        if lat:
            await self.delay()
        if fault == "reset_request":
            up = await self.reconnect(up)
            cut = self.rng.randrange(len(raw))
            self.bytes_up += cut
            await self.send(up[1], raw[:cut], slow)
            await asyncio.sleep(0.05)  # let ferryd read what it got
            reset(up[1])
            reset(cw)
            return None, False
        if fault == "blackhole":
            if self.rng.random() < 0.5:
                up = await self.reconnect(up)
                self.bytes_up += len(raw)
                await self.send(up[1], raw, slow)
                await close(up)  # ferryd's answer is never read
            self.held.add(cw)
            return None, False
        if streamed is None:
            up, ans = await self.forward(up, raw, req["method"], slow)
        else:
            raw, ans = streamed
        if fault == "replay":
            up, second = await self.forward(up, raw, req["method"], slow)
            pick = self.replay_answer
            if pick == "second" or (pick == "random" and self.rng.random() < 0.5):
                ans = second
        if lat:
            await self.delay()
        out = ans["raw"]
        if fault == "reset_response":
            await self.send(cw, out[:self.rng.randrange(len(out))], slow)
            reset(cw)
            return up, False
        if fault == "cut_body" and len(ans["raw"]) > len(ans["head"]):
            n = len(ans["head"]) + self.rng.randrange(len(out) - len(ans["head"]))
            await self.send(cw, out[:n], slow)
            return up, False
        if fault in ("cut_headers", "cut_body"):
            await self.send(cw, out[:self.rng.randrange(len(ans["head"]) - 1)], slow)
            return up, False
        await self.send(cw, out, slow)
        if not ans["keep"]:
            await close(up)
            up = None
        return up, req["keep"] and ans["keep"]

    async def stream_up(self, up, req, cr):
        """Sends a request whose body is still to be read upstream, at
        the rate; (upstream, (the whole request, the answer))."""
        up = await self.reconnect(up)
        raw, left = req["raw"], req["pending"]
        up[1].write(raw)
        step = max(1, self.rate // 20)
        while left:
            piece = await cr.readexactly(min(step, left))
            up[1].write(piece)
            await up[1].drain()
            raw += piece
            left -= len(piece)
            self.bytes_up += len(piece)
            await asyncio.sleep(len(piece) / self.rate)
        ans = await read_message(up[0], req["method"], None)
        if ans is None:
            raise Broken("upstream closed")
        return up, (raw, ans)

    async def reconnect(self, up):
        if up is None or up[1].is_closing() or up[0].at_eof():
            await close(up)
            up = await asyncio.open_connection("127.0.0.1", self.upstream)
        return up

    async def forward(self, up, raw, method, slow):
        """Sends one request upstream and reads its whole answer; a
        connection ferryd closed while idle is opened again once."""
        reused = up is not None
        up = await self.reconnect(up)
        self.bytes_up += len(raw)
        try:
            await self.send(up[1], raw, slow)
            ans = await read_message(up[0], method, None)
        except (OSError, Broken, asyncio.IncompleteReadError):
            if not reused:
                raise
            ans = None
        if ans is not None:
            return up, ans
        if not reused:
            raise Broken("upstream closed")
        # ferryd had closed the idle connection: nothing of it was read
        await close(up)
        return await self.forward(None, raw, method, slow)

    # ---- control ------------------------------------------------------

    async def control(self, r, w):
        try:
            words = (await r.readline()).decode().split()
            ans = self.command(words)
        except (ValueError, IndexError) as e:
            ans = {"error": str(e)}
        w.write((json.dumps(ans, sort_keys=True) + "\n").encode())
        await w.drain()
        w.close()

    def command(self, words):
        if words[0] == "random":
            self.random_on = words[1] == "on"
        elif words[0] == "once":
            if words[1] not in KINDS:
                raise ValueError("no fault kind '%s'" % words[1])
            self.queue.append((words[1], " ".join(words[2:])))
        elif words[0] == "replay":
            if words[1] not in ("first", "second", "random"):
                raise ValueError("replay takes first, second or random")
            self.replay_answer = words[1]
        elif words[0] != "stats":
            raise ValueError("unknown command '%s'" % words[0])
        return self.stats()


def reset(w):
    """Closes with an RST: SO_LINGER of zero seconds."""
    sock = w.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                            struct.pack("ii", 1, 0))
        except OSError:
            pass
    w.transport.abort()


async def hold(r):
    """A blackhole: reads and drops until the client gives up."""
    try:
        while await r.read(65536):
            pass
    except OSError:
        pass


async def close(pair):
    if pair is None:
        return
    w = pair[1]
    try:
        w.close()
        await w.wait_closed()
    except (OSError, Broken):
        pass


def header(headers, name):
    for k, v in headers:
        if k.lower() == name:
            return v.strip()
    return None


async def read_message(r, method, cw, defer=False):
    """One whole HTTP/1.1 message: a request (method None) or the answer
    to METHOD. Its bytes as they came ("raw"), except that a request's
    Expect: 100-continue is answered here (cw) and dropped. None when the
    peer closed before its first byte. defer: a request's Content-Length
    body is left unread, its length in "pending"."""
    try:
        head = await r.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as e:
        if not e.partial:
            return None
        raise Broken("cut head")
    except asyncio.LimitOverrunError:
        raise Broken("head too long")
    lines = head[:-4].decode("latin-1").split("\r\n")
    headers = [tuple(x.split(":", 1)) for x in lines[1:] if ":" in x]
    start = lines[0]
    keep = (header(headers, "connection") or "").lower() != "close"
    msg = {"line": start, "keep": keep}
    if method is None:
        parts = start.split(" ")
        if len(parts) != 3:
            raise Broken("bad request line")
        msg["method"] = parts[0]
        if (header(headers, "expect") or "").lower() == "100-continue":
            lines = [x for x in lines if not x.lower().startswith("expect:")]
            head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
            cw.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            await cw.drain()
    else:
        status = int(start.split(" ")[1])
        if 100 <= status < 200:  # an interim answer: the real one follows
            nxt = await read_message(r, method, cw)
            nxt["raw"] = head + nxt["raw"]
            nxt["head"] = head + nxt["head"]
            return nxt
    msg["head"] = head
    msg["pending"] = 0
    te = (header(headers, "transfer-encoding") or "").lower()
    cl = header(headers, "content-length")
    if method == "HEAD" or (method and (start.split(" ")[1] in ("204", "304"))):
        body = b""
    elif "chunked" in te:
        body = await read_chunked(r)
    elif cl is not None and defer:
        body, msg["pending"] = b"", int(cl)
    elif cl is not None:
        body = await r.readexactly(int(cl))
    elif method is None:
        body = b""
    else:  # an answer without a length ends with the connection
        body = await r.read()
        msg["keep"] = False
    msg["raw"] = head + body
    return msg


async def read_chunked(r):
    out = b""
    while True:
        size_line = await r.readuntil(b"\r\n")
        out += size_line
        n = int(size_line.split(b";")[0].strip(), 16)
        if n == 0:
            while True:  # trailers, then the empty line
                t = await r.readuntil(b"\r\n")
                out += t
                if t == b"\r\n":
                    return out
        out += await r.readexactly(n + 2)


def parse_args(argv):
    o = {"seed": None, "probs": {}, "latency": 50.0, "jitter": 40.0,
         "rate": 65536, "random": True}
    it = iter(argv)
    for a in it:
        if a == "--seed":
            o["seed"] = int(next(it))
        elif a == "--p":
            k, v = next(it).split("=")
            if k not in KINDS:
                raise SystemExit("faultproxy: no fault kind '%s'" % k)
            o["probs"][k] = float(v)
        elif a in ("--latency", "--jitter"):
            o[a[2:]] = float(next(it))
        elif a == "--rate":
            o["rate"] = int(next(it))
        elif a == "--random":
            o["random"] = next(it) == "on"
        else:
            raise SystemExit("faultproxy: unknown option '%s'" % a)
    if o["seed"] is None:
        o["seed"] = random.SystemRandom().randrange(1 << 31)
    return o


async def serve(argv):
    up_port, portfile, statsfile = int(argv[0]), argv[1], argv[2]
    o = parse_args(argv[3:])
    p = Proxy(up_port, statsfile, o["seed"], o["probs"], o["latency"],
              o["jitter"], o["rate"], o["random"])
    print("faultproxy: seed %d" % o["seed"], file=sys.stderr, flush=True)
    # A small receive window: a slow request's client sees its upload
    # move at about the rate, not vanish into loopback's large buffers.
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    ls.bind(("127.0.0.1", 0))
    srv = await asyncio.start_server(p.client, sock=ls, limit=HEAD_MAX)
    ctl = await asyncio.start_server(p.control, "127.0.0.1", 0)
    p.write_stats()
    tmp = portfile + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n%d\n" % (srv.sockets[0].getsockname()[1],
                              ctl.sockets[0].getsockname()[1]))
    os.replace(tmp, portfile)
    stop = asyncio.Event()
    for s in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(s, stop.set)
    await stop.wait()
    p.write_stats()


def ctl(argv):
    with open(argv[0]) as f:
        port = int(f.read().split()[1])
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall((" ".join(argv[1:]) + "\n").encode())
    out = b""
    while not out.endswith(b"\n"):
        b = s.recv(65536)
        if not b:
            break
        out += b
    sys.stdout.write(out.decode())
    return 1 if b'"error"' in out else 0


if __name__ == "__main__":
    if len(sys.argv) >= 5 and sys.argv[1] == "serve":
        asyncio.run(serve(sys.argv[2:]))
    elif len(sys.argv) >= 4 and sys.argv[1] == "ctl":
        sys.exit(ctl(sys.argv[2:]))
    else:
        sys.exit(__doc__)
