"""The auth matrix of scenario 370: every endpoint of ferryd against every
kind of credential, from the table tests/e2e/fixtures/auth_matrix.tsv.

  auth_matrix.py TABLE ROUTES CREDS OUTDIR

TABLE is the matrix; ROUTES what `ferryd routes` prints (a route missing
from the table, or a row naming no route, fails: a new endpoint cannot
escape the matrix); CREDS a JSON file written by the scenario: the URL,
the store (kind and URL), the keys and the values the table's paths and
bodies name as ${NAME}. For each cell the request is sent once and must
get the cell's status and error code (the JSON error.code, or the
Location of a redirect), and the store's digest must be the same after it
as before. A marker "!TEXT" in a cell is text the answer must not hold
(another region's data). Every answer body is kept in OUTDIR for the
scenario's grep for secrets. The column "owner" (the right credential) is
run after every other cell: it shows that each request was one the
endpoint would serve, so that the refusals are the credential's doing; it
may change the store and its digest is not compared.

A cell is "STATUS [CODE|-|>LOCATION] [!TEXT]...", or "n/a" where the
column does not apply to the endpoint (said in the table's comments).
"""
import hashlib
import http.client
import json
import os
import re
import sqlite3
import subprocess
import sys

COLUMNS = ["none", "malformed", "unknown", "wrong_secret", "revoked",
           "expired", "rotated", "device_on_admin", "other_region",
           "other_device", "session_on_api", "key_on_dashboard"]
OWNER = "owner"


def fail(msg):
    print("FAIL: auth matrix: " + msg, file=sys.stderr)
    sys.exit(1)


def read_table(path):
    rows, header = [], None
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        line = line.rstrip("\n")
        if not line.strip() or line.startswith("#"):
            continue
        cells = line.split("\t")
        if header is None:
            header = cells
            want = ["method", "pattern", "auth", "path", "body"] + COLUMNS + [OWNER]
            if header != want:
                fail("%s: the header must be %s" % (path, "\t".join(want)))
            continue
        if len(cells) != len(header):
            fail("%s:%d: %d cells, want %d" % (path, n, len(cells), len(header)))
        rows.append(dict(zip(header, cells), line=n))
    return rows


def read_routes(path):
    out = set()
    for line in open(path, encoding="utf-8"):
        f = line.split()
        if len(f) == 3:
            out.add((f[0], f[1], f[2]))
    return out


class Store:
    """A digest of everything a request could change, minus the records
    ferryd keeps by design of requests it refused or served: a key's
    last use, a session's last use, devices' counters and runs, and the
    'refused' attempts in a stream's history."""

    SKIP = {"devices", "sqlite_sequence"}

    def __init__(self, kind, url):
        self.kind, self.url = kind, url
        if kind == "sqlite":
            self.db = sqlite3.connect("file:%s?mode=ro" % url[len("sqlite:"):],
                                      uri=True, timeout=30)
        else:
            self.psql = subprocess.Popen(
                ["psql", url, "-qAtX", "-v", "ON_ERROR_STOP=1"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def query(self, sql):
        if self.kind == "sqlite":
            return [tuple("N" if v is None else (v.hex() if isinstance(v, bytes) else str(v))
                          for v in r) for r in self.db.execute(sql)]
        self.psql.stdin.write(sql + ";\n\\echo __end__\n")
        self.psql.stdin.flush()
        out = []
        for line in self.psql.stdout:
            if line == "__end__\n":
                return out
            out.append(line)
        fail("psql ended")

    def tables(self):
        if self.kind == "sqlite":
            return [r[0] for r in self.query(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
                " ORDER BY name")]
        return [l.strip() for l in self.query(
            "SELECT table_schema || '.' || table_name FROM"
            " information_schema.tables WHERE table_schema IN"
            " ('public', 'ferry') AND table_type = 'BASE TABLE' ORDER BY 1")]

    def select(self, t):
        base = re.sub(r"^(ferry[._])", "", t)
        if base in self.SKIP:
            return None
        if base == "api_keys":
            return ("SELECT id, secret_hash, device, region, admin, created_at,"
                    " expires_at, revoked_at FROM %s ORDER BY id" % t)
        if base == "dash_sessions":
            return ("SELECT token_hash, key_id, csrf, created_ms FROM %s"
                    " ORDER BY token_hash" % t)
        if base == "sync_status":
            return "SELECT * FROM %s WHERE kind <> 'device' ORDER BY kind, name" % t
        if base == "sync_history":
            return ("SELECT * FROM %s WHERE kind <> 'device' AND status <>"
                    " 'refused' ORDER BY id" % t)
        return "SELECT * FROM %s ORDER BY 1" % t

    def digest(self):
        """{table: digest of its rows}: compared whole, named by table."""
        if self.kind == "sqlite":
            self.db.commit()  # a fresh read snapshot
        out = {}
        for t in self.tables():
            sql = self.select(t)
            if sql:
                out[t] = hashlib.sha256(repr(sorted(self.query(sql))).encode()).hexdigest()
        return out


def expand(text, creds):
    def one(m):
        if m.group(1) not in creds["vars"]:
            fail("no value for ${%s}" % m.group(1))
        return creds["vars"][m.group(1)]
    return re.sub(r"\$\{([A-Z0-9_]+)\}", one, text)


def body_of(spec, creds, login_key):
    """(bytes, content type) of a row's body spec."""
    if spec == "-":
        return None, None
    if spec.startswith("json:"):
        return expand(spec[5:], creds).encode(), "application/json"
    if spec.startswith("form:"):
        return expand(spec[5:], creds).encode(), "application/x-www-form-urlencoded"
    if spec == "login":
        # The credential of the column is the form's key field.
        text = "key=" + login_key if login_key else "note=1"
        return text.encode(), "application/x-www-form-urlencoded"
    if spec.startswith("@"):
        name = expand(spec[1:], creds)
        data = open(os.path.join(creds["files"], name), "rb").read()
        ctype = open(os.path.join(creds["files"], name + ".type")).read().strip()
        return data, ctype
    fail("unknown body spec %r" % spec)


def credential(col, route_auth, creds):
    """(headers, the key text a log-in form would carry) for a column."""
    k = creds["keys"]
    cookie = "ferry_session=" + creds["session"]
    table = {
        "none": ({}, None),
        "malformed": ({"Authorization": "Bearer " + k["malformed"]}, k["malformed"]),
        "unknown": ({"X-Api-Key": k["unknown"]}, k["unknown"]),
        "wrong_secret": ({"X-Api-Key": k["wrong_secret"]}, k["wrong_secret"]),
        "revoked": ({"X-Api-Key": k["revoked"]}, k["revoked"]),
        "expired": ({"X-Api-Key": k["expired"]}, k["expired"]),
        "rotated": ({"X-Api-Key": k["rotated"]}, k["rotated"]),
        "device_on_admin": ({"X-Api-Key": k["owner"]}, k["owner"]),
        "other_region": ({"X-Api-Key": k["other_region"]}, k["other_region"]),
        "other_device": ({"X-Api-Key": k["other_device"]}, k["other_device"]),
        "session_on_api": ({"Cookie": cookie}, None),
        "key_on_dashboard": ({"X-Api-Key": k["admin"]}, None),
    }
    if col != OWNER:
        return table[col]
    if route_auth == "session":
        return {"Cookie": cookie}, None
    if route_auth == "admin":
        return {"X-Api-Key": k["admin"]}, None
    return {"X-Api-Key": k["owner"]}, k["admin"]


def send(creds, method, path, headers, body, ctype):
    c = http.client.HTTPConnection("127.0.0.1", creds["port"], timeout=60)
    h = dict(headers)
    if ctype:
        h["Content-Type"] = ctype
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    loc = r.getheader("Location")
    c.close()
    return r.status, data, loc


def outcome(status, data, loc):
    """The cell's text for an answer: status and code (or location)."""
    if 300 <= status < 400:
        return "%d >%s" % (status, loc)
    try:
        code = json.loads(data)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        code = "-"
    return "%d %s" % (status, code)


def run_cell(row, col, creds, store, outdir, n, check_digest):
    want = row[col]
    if want == "n/a":
        return None
    words = want.split()
    expect = " ".join(w for w in words if not w.startswith("!"))
    if len(expect.split()) == 1:
        expect += " -"
    markers = [w[1:] for w in words if w.startswith("!")]
    headers, login_key = credential(col, row["auth"], creds)
    body, ctype = body_of(row["body"], creds, login_key)
    path = expand(row["path"], creds)
    before = store.digest() if check_digest else None
    status, data, loc = send(creds, row["method"], path, headers, body, ctype)
    after = store.digest() if check_digest else None
    got = outcome(status, data, loc)
    with open(os.path.join(outdir, "answer.%04d" % n), "wb") as f:
        f.write(data)
    where = "%s %s [%s] (table line %d)" % (row["method"], row["pattern"], col,
                                           row["line"])
    problems = []
    if got != expect:
        problems.append("expected '%s', got '%s': %s" % (expect, got, data[:300]))
    for m in markers:
        if m.encode() in data:
            problems.append("the answer holds '%s'" % m)
    if before != after:
        problems.append("the store changed: %s" % ", ".join(
            sorted(t for t in set(before) | set(after)
                   if before.get(t) != after.get(t))))
    return where, got, problems


def main():
    table, routes_file, creds_file, outdir = sys.argv[1:5]
    rows = read_table(table)
    creds = json.load(open(creds_file))
    routes = read_routes(routes_file)
    listed = {(r["method"], r["pattern"], r["auth"]) for r in rows}
    for r in sorted(routes - listed):
        fail("ferryd has the route %s %s (%s) but %s has no row for it"
             " (or names another auth)" % (r[0], r[1], r[2], os.path.basename(table)))
    for r in sorted(listed - routes):
        fail("%s lists %s %s (%s), which ferryd does not have"
             % (os.path.basename(table), r[0], r[1], r[2]))
    if len(listed) != len(rows):
        fail("a route is listed twice")
    store = Store(creds["store_kind"], creds["store_url"])
    bad, cells, na, n = [], 0, 0, 0
    actual = []
    for row in rows:
        line = []
        for col in COLUMNS:
            n += 1
            res = run_cell(row, col, creds, store, outdir, n, True)
            if res is None:
                na += 1
                line.append("n/a")
                continue
            cells += 1
            line.append(res[1])
            bad += ["%s: %s" % (res[0], p) for p in res[2]]
        actual.append((row, line))
    owners = 0
    for row, line in actual:
        n += 1
        res = run_cell(row, OWNER, creds, store, outdir, n, False)
        if res is None:
            line.append("n/a")
            continue
        owners += 1
        line.append(res[1])
        bad += ["%s: %s" % (res[0], p) for p in res[2]]
    with open(os.path.join(outdir, "matrix.actual.tsv"), "w") as f:
        for row, line in actual:
            f.write("\t".join([row["method"], row["pattern"]] + line) + "\n")
    for b in bad:
        print("FAIL: " + b, file=sys.stderr)
    if bad:
        fail("%d of %d cells differ from the table (the answers are in"
             " matrix.actual.tsv)" % (len(bad), cells + owners))
    print("auth matrix: %d routes x %d credentials: %d cells as tabled with the"
          " store unchanged, %d not applicable; %d owner requests served"
          % (len(rows), len(COLUMNS), cells, na, owners))


if __name__ == "__main__":
    main()
