#!/usr/bin/env python3
# The hand-made seeds of tests/fuzz (rows, multipart, range, snapshot, http);
# run in tests/fuzz. The contract, mapping, config and import seeds are the
# JSON examples of docs/ and tests/e2e/fixtures, copied as they are.
import os, sqlite3, struct, gzip, json, hashlib
KEY = "fy_0123456789abcdef." + "1"*64
ADMIN = "fy_aaaaaaaaaaaaaaaa." + "2"*64
REGION = "fy_bbbbbbbbbbbbbbbb." + "3"*64
def put(kind, name, data):
    os.makedirs(kind, exist_ok=True)
    if isinstance(data, str): data = data.encode()
    open(os.path.join(kind, name), 'wb').write(data)
# rows: first byte = table bit0, patch bit1, key bits 2-3
full = {"id": 1, "name": "a", "n": 7, "score": 1.5, "amount": "12.50", "ok": True,
        "raw": "aGVsbG8=", "at": "2026-01-02T03:04:05.123Z", "day": "2026-01-02",
        "doc": {"x": [1, 2]}, "file": None, "device": "x"}
put('rows', 'post-full', b'\x00' + json.dumps(full).encode())
put('rows', 'post-array', b'\x00' + json.dumps([full, {"id": 2, "name": "b"}]).encode())
put('rows', 'patch', b'\x02' + json.dumps({"id": 1, "name": "a", "score": -0.0}).encode())
put('rows', 'admin', b'\x04' + json.dumps({"id": 9007199254740993, "name": "\u00e9"}).encode())
put('rows', 'shift', b'\x01' + json.dumps({"id": "s1", "region": "north", "hours": "7.5"}).encode())
put('rows', 'shift-region', b'\x09' + json.dumps([{"id": "s1", "hours": 8}, {"id": "s2", "region": "south", "hours": "1e3"}]).encode())
put('rows', 'bad-types', b'\x00' + json.dumps({"id": "x", "name": 5, "ok": "yes", "at": "yesterday", "day": "2026-02-30", "amount": "1e999999"}).encode())
put('rows', 'blob', b'\x00' + json.dumps({"id": 3, "name": "c", "file": "a"*64}).encode())
# multipart: first line content type
B = "XyZ"
body = ("--XyZ\r\nContent-Disposition: form-data; name=\"meta\"\r\n\r\nhello\r\n"
        "--XyZ\r\nContent-Disposition: form-data; name=\"db\"; filename=\"a.db\"\r\n"
        "Content-Type: application/octet-stream\r\n\r\nSQLite format 3\x00...\r\n--XyZ--\r\n")
put('multipart', 'two-parts', "multipart/form-data; boundary=XyZ\n" + body)
put('multipart', 'quoted', 'multipart/form-data; boundary="a b:c"\n' + body.replace("XyZ", "a b:c"))
put('multipart', 'preamble', "Multipart/Form-Data; charset=utf-8; boundary=--7\nignored\r\n----7\r\ncontent-disposition: form-data; name=db\r\n\r\nx\r\n----7--")
put('multipart', 'no-end', "multipart/form-data; boundary=XyZ\n--XyZ\r\nContent-Disposition: form-data; name=\"db\"\r\n\r\nabc")
put('multipart', 'twice', "multipart/form-data; boundary=q\n--q\r\nContent-Disposition: form-data; name=\"db\"\r\n\r\n1\r\n--q\r\nContent-Disposition: form-data; name=\"db\"\r\n\r\n2\r\n--q--\r\n")
# range: 8 bytes size, header
def rng(name, size, h): put('range', name, struct.pack('>Q', size) + h.encode())
rng('first', 1000, 'bytes=0-99'); rng('open', 1000, 'bytes=500-'); rng('suffix', 1000, 'bytes=-10')
rng('past', 10, 'bytes=10-20'); rng('multi', 1000, 'bytes=0-1,5-6'); rng('case', 0, 'BYTES=0-0')
rng('cr', 100, 'bytes 0-99/100'); rng('cr-big', 1 << 62, 'bytes 0-4611686018427387903/4611686018427387904')
put('range', 'huge', b'\xff' * 8 + b'bytes=18446744073709551614-')
# snapshot files
def snap(name, rows_t, rows_s, marker=None, page=512):
    path = '/tmp/ferry-seed-snap.db'
    if os.path.exists(path): os.unlink(path)
    db = sqlite3.connect(path)
    db.execute('PRAGMA page_size=%d' % page)
    db.execute('CREATE TABLE t (id INTEGER, name TEXT, n INTEGER, score REAL, amount TEXT, ok INTEGER, raw BLOB, at TEXT, day TEXT, doc TEXT, file TEXT, device TEXT, PRIMARY KEY (id, name))')
    db.execute('CREATE TABLE shifts (id TEXT PRIMARY KEY, region TEXT, hours NUMERIC NOT NULL)')
    db.executemany('INSERT INTO t VALUES (?,?,?,?,?,?,?,?,?,?,?,?)', rows_t)
    db.executemany('INSERT INTO shifts VALUES (?,?,?)', rows_s)
    if marker is not None:
        db.execute('CREATE TABLE _ferry_snapshot (k TEXT, v TEXT)')
        db.executemany('INSERT INTO _ferry_snapshot VALUES (?,?)', marker)
    db.commit(); db.execute('VACUUM'); db.close()
    put('snapshot', name, open(path, 'rb').read())
snap('empty', [], [])
snap('rows', [(1, 'a', 3, 1.5, '12.5', 1, b'\x00\x01', '2026-01-02T03:04:05Z', '2026-01-02', '{"x":1}', None, 'd'),
              (2, 'b', None, None, None, 0, None, None, None, None, None, None)],
     [('s1', 'north', 7.5), ('s2', 'south', '8')])
snap('odd-types', [('x', 5, 'n', 'score', 1e308, 'yes', 'text', 12, 3.5, '{bad', 'f' * 64, 7)], [('s', None, 1)])
def marked(name, cursor, snapv, rows):
    path = '/tmp/ferry-seed-snap.db'
    if os.path.exists(path): os.unlink(path)
    db = sqlite3.connect(path)
    db.execute('PRAGMA page_size=512')
    db.execute('CREATE TABLE t (id INTEGER, name TEXT, n INTEGER, score REAL, amount TEXT, ok INTEGER, raw BLOB, at TEXT, day TEXT, doc TEXT, file TEXT, device TEXT, PRIMARY KEY (id, name))')
    db.execute('CREATE TABLE shifts (id TEXT PRIMARY KEY, region TEXT, hours NUMERIC NOT NULL)')
    db.executemany('INSERT INTO t (id, name, n) VALUES (?,?,?)', rows)
    db.execute('CREATE TABLE _ferry_snapshot (cursor TEXT, snapshot TEXT)')
    db.execute('INSERT INTO _ferry_snapshot VALUES (?, ?)', (cursor, snapv))
    db.commit(); db.execute('VACUUM'); db.close()
    put('snapshot', name, open(path, 'rb').read())
marked('marker', 'c1.0.0', '5:9:6,7', [(1, 'a', 1), (2, 'b', 2)])
marked('marker-nosnap', 'c1.12.3', None, [(1, 'a', 1)])
os.makedirs('http', exist_ok=True)
n = [0]
def req(name, method, path, headers=(), body=b'', key=KEY, auth='x'):
    if isinstance(body, str): body = body.encode()
    h = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    if key and auth == 'x': h.append("X-Api-Key: " + key)
    if key and auth == 'b': h.append("Authorization: Bearer " + key)
    h += list(headers)
    if body or method in ('POST', 'PUT', 'PATCH'):
        h.append(f"Content-Length: {len(body)}")
    data = ("\r\n".join(h) + "\r\n\r\n").encode() + body
    open(os.path.join('http', name), 'wb').write(data)
push = json.dumps({"device": "dev1", "changes": [{"seq": 1, "table": "t", "op": "upsert", "hlc": "0000018c00000001", "row": {"id": 1, "name": "a", "score": 2.5, "at": "2026-01-01T00:00:00Z"}}, {"seq": 2, "table": "shifts", "op": "delete", "hlc": "0000018c00000002", "row": {"id": "s1"}}]})
req('push', 'POST', '/v1/push', ["Content-Type: application/json"], push)
req('push-gzip', 'POST', '/v1/push', ["Content-Type: application/json", "Content-Encoding: gzip"], gzip.compress(push.encode(), mtime=0))
req('push-bearer', 'POST', '/v1/push', ["Content-Type: application/json; charset=utf-8"], push, auth='b')
req('alias', 'POST', '/old/upload', ["Content-Type: application/json", "X-Token: " + REGION, "X-Region: north"], push, key=None)
req('rows-post', 'POST', '/v1/tables/t/rows', ["Content-Type: application/json", "Idempotency-Key: abc-1"], json.dumps({"id": 5, "name": "n", "amount": "1.25"}))
req('rows-get', 'GET', '/v1/tables/t/rows/5,n', [])
req('rows-get-pct', 'GET', '/v1/tables/shifts/rows/a%2Fb%20c', [], key=REGION)
req('rows-patch', 'PATCH', '/v1/tables/t/rows/5,n', ["Content-Type: application/json"], json.dumps({"score": 1e10}))
req('rows-delete', 'DELETE', '/v1/tables/shifts/rows/s1', [], key=ADMIN)
req('trace', 'GET', '/v1/trace/t/1,a', [])
req('changes', 'GET', '/v1/changes?cursor=c1.0.0&limit=10&tables=t,shifts&wait=0', [])
req('changes-bad', 'GET', '/v1/changes?cursor=zz&limit=-1&limit=2', [])
req('contract', 'GET', '/v1/contract', ["Ferry-Contract: 1"])
req('status', 'GET', '/v1/status?device=dev1', [], key=ADMIN)
req('health', 'GET', '/health', [], key=None)
req('metrics', 'GET', '/metrics', [], key=None)
data = b"hello blob"
sha = hashlib.sha256(data).hexdigest()
req('blob-put', 'PUT', '/v1/blobs/' + sha, ["Content-Type: application/octet-stream", "Content-Range: bytes 0-9/10"], data)
req('blob-head', 'HEAD', '/v1/blobs/' + sha, [])
req('blob-get-range', 'GET', '/v1/blobs/' + sha, ["Range: bytes=2-5", "If-None-Match: W/\"x\", \"" + sha + "\""])
mp = ("--b1\r\nContent-Disposition: form-data; name=\"file\"; filename=\"r.txt\"\r\nContent-Type: text/plain\r\n\r\nreport\r\n--b1\r\nContent-Disposition: form-data; name=\"id\"\r\n\r\n7\r\n--b1--\r\n")
req('files', 'POST', '/v1/tables/t/files/file?id=7&name=x', ["Content-Type: multipart/form-data; boundary=b1"], mp)
snap = open('snapshot/rows', 'rb').read()
req('snapshot-post', 'POST', '/v1/snapshots', ["Content-Type: application/vnd.sqlite3"], snap)
req('snapshot-get', 'GET', '/v1/snapshots/latest', ["If-None-Match: \"x\""])
req('runs', 'POST', '/v1/streams/forms.sync/runs', ["Content-Type: application/json"], json.dumps({"lease_s": 60, "worker": "w1"}))
req('runs-hb', 'POST', '/v1/runs/1/heartbeat', ["Content-Type: application/json"], json.dumps({"cursor": "x", "rows": 3}))
req('runs-complete', 'POST', '/v1/runs/1/complete', ["Content-Type: application/json"], json.dumps({"cursor": "y", "rows": 5}))
req('cursor', 'PUT', '/v1/streams/forms.sync/cursor', ["Content-Type: application/json"], json.dumps({"cursor": "z"}), key=ADMIN)
req('dash-login', 'POST', '/dashboard/login', ["Content-Type: application/x-www-form-urlencoded"], "key=" + ADMIN.replace('.', '%2E') + "&next=%2Fdashboard", key=None)
req('dash', 'GET', '/dashboard/devices?page=2&q=d%C3%A9v', ["Cookie: ferry_session=abc; other=1"], key=None)
req('dash-keys', 'POST', '/dashboard/keys', ["Content-Type: application/x-www-form-urlencoded", "Cookie: ferry_session=abc"], "device=x&region=&admin=on&csrf=zz", key=None)
# framing and odd heads
open('http/te-cl', 'wb').write(b"POST /v1/push HTTP/1.1\r\nHost: a\r\nX-Api-Key: " + KEY.encode() + b"\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
open('http/two-cl', 'wb').write(b"POST /v1/push HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}")
open('http/chunked', 'wb').write(b"POST /v1/tables/t/rows HTTP/1.1\r\nHost: a\r\nX-Api-Key: " + KEY.encode() + b"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"id\r\n10\r\n\": 1, \"name\": \"\"}\r\n0\r\n\r\n")
open('http/pipelined', 'wb').write(b"GET /health/live HTTP/1.1\r\nHost: a\r\n\r\nGET /v1/contract HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer " + KEY.encode() + b"\r\n\r\n")
open('http/http10', 'wb').write(b"GET /v1/tables/t/rows/%ZZ HTTP/1.0\r\n\r\n")
open('http/ctl-path', 'wb').write(b"GET /v1/tables/t%00x/rows/%0a%1b[31m HTTP/1.1\r\nHost: a\r\nX-Api-Key: fy_bad\r\n\r\n")
