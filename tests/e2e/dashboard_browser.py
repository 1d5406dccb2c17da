#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The dashboard in headless Chromium, driven over the W3C WebDriver
protocol (chromedriver on a loopback port) with the standard library only.

    dashboard_browser.py URL ADMIN_KEY DEVICE_KEY SHOTS_DIR PREFIX WORK_DIR

Logs in as a person would (typing into the form, clicking), visits every
page, creates and revokes a key and checks it against the API, posts a
form from another site with and without an Origin, logs out and checks
that the old cookie is dead. Screenshots of each page go to
SHOTS_DIR/PREFIX-PAGE.png. Exits 1 with a message on the first failure.
"""
import base64
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

URL, ADMIN, DEVICE, SHOTS, PREFIX, WORK = sys.argv[1:7]


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Driver:
    def __init__(self):
        self.port = free_port()
        self.log = open(os.path.join(WORK, "chromedriver.log"), "w")
        self.proc = subprocess.Popen(
            ["chromedriver", "--port=%d" % self.port],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.base = "http://127.0.0.1:%d" % self.port
        for _ in range(100):
            try:
                if self.call("GET", "/status")["ready"]:
                    break
            except (OSError, ValueError):
                pass
            time.sleep(0.1)
        else:
            fail("chromedriver did not start (see chromedriver.log)")
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                # As root Chromium wants --no-sandbox; /dev/shm may be small.
                "args": ["--headless=new", "--no-sandbox",
                         "--disable-dev-shm-usage", "--disable-gpu",
                         "--window-size=1100,1000",
                         "--user-data-dir=" + os.path.join(WORK, "profile")],
            }}}}
        try:
            self.sid = self.call("POST", "/session", caps)["sessionId"]
        except RuntimeError as e:
            fail("Chromium did not start: %s" % e)
        # Finding an element waits for it: a click's page may still load.
        self.s("POST", "/timeouts", {"implicit": 10000})

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data,
                                     method=method)
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return json.loads(r.read())["value"]
        except urllib.error.HTTPError as e:
            raise RuntimeError(e.read().decode(errors="replace")[:500])

    def s(self, method, path, body=None):
        return self.call(method, "/session/%s%s" % (self.sid, path), body)

    def go(self, path):
        self.s("POST", "/url", {"url": URL + path})

    def url(self, want=None):
        """The current URL; with want, waits up to 10 s for it (a click's
        navigation may still be under way when the click returns)."""
        until = time.time() + 10
        u = self.s("GET", "/url")
        while want and u != want and time.time() < until:
            time.sleep(0.1)
            u = self.s("GET", "/url")
        return u

    def source(self, want=None):
        """The page's HTML; with want, waits up to 10 s for it to hold that
        text (the page may still be loading)."""
        until = time.time() + 10
        src = self.s("GET", "/source")
        while want and want not in src and time.time() < until:
            time.sleep(0.1)
            src = self.s("GET", "/source")
        return src

    def find(self, css):
        el = self.s("POST", "/element", {"using": "css selector",
                                         "value": css})
        return list(el.values())[0]

    def type(self, css, text):
        self.s("POST", "/element/%s/value" % self.find(css), {"text": text})

    def click(self, css):
        self.s("POST", "/element/%s/click" % self.find(css), {})

    def cookie(self, name):
        try:
            return self.s("GET", "/cookie/" + name)
        except RuntimeError:
            return None

    def shot(self, page):
        png = base64.b64decode(self.s("GET", "/screenshot"))
        with open(os.path.join(SHOTS, "%s-%s.png" % (PREFIX, page)),
                  "wb") as f:
            f.write(png)
        if len(png) < 1000 or png[:8] != b"\x89PNG\r\n\x1a\n":
            fail("screenshot of %s is not a PNG" % page)

    def quit(self):
        try:
            self.s("DELETE", "")
        finally:
            self.proc.terminate()
            self.proc.wait()


def api_status(key):
    req = urllib.request.Request(URL + "/v1/contract")
    req.add_header("X-Api-Key", key)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args):
        return None


def page_status(path, cookie):
    req = urllib.request.Request(URL + path)
    req.add_header("Cookie", "ferry_session=" + cookie)
    try:
        with urllib.request.build_opener(NoRedirect).open(req,
                                                          timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def evil_site(no_referrer):
    """Another origin (another port) with a form aimed at the dashboard:
    no CSRF token, and, with no_referrer, no usable Origin either."""
    meta = '<meta name="referrer" content="no-referrer">' if no_referrer \
        else ""
    page = ("<!DOCTYPE html><html><head>%s<title>prize</title></head><body>"
            "<form method=post action='%s/dashboard/keys'>"
            "<input type=hidden name=device value=evil>"
            "<input type=hidden name=role value=admin>"
            "<button id=go type=submit>Claim</button></form></body></html>"
            % (meta, URL)).encode()

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *a):
            pass

    srv = http.server.HTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def expect(cond, msg):
    if not cond:
        fail(msg)


def log_in(d, key):
    d.go("/dashboard/login")
    d.type("input[name=key]", key)
    d.click("button[type=submit]")


def main():
    os.makedirs(SHOTS, exist_ok=True)
    d = Driver()
    try:
        run(d)
    finally:
        d.quit()
    print("browser: ok")


def run(d):
    # No session: the log-in form.
    d.go("/dashboard/devices")
    expect(d.url(URL + "/dashboard/login") == URL + "/dashboard/login",
           "a page without a session went to " + d.url())
    d.shot("login")
    # A wrong key and a device key: one message, no cookie.
    for key in ("fy_0123456789abcdef." + "7" * 64, DEVICE):
        log_in(d, key)
        msg = "That key cannot log in here."
        expect(msg in d.source(msg), "refused log-in page: " + d.source())
        expect(d.cookie("ferry_session") is None, "a cookie for a bad key")
    d.shot("refused")
    log_in(d, ADMIN)
    expect(d.url(URL + "/dashboard") == URL + "/dashboard", "after log-in: " + d.url())
    c = d.cookie("ferry_session")
    expect(c and c["httpOnly"] and c.get("sameSite") == "Strict"
           and c["path"] == "/dashboard", "the cookie: %r" % c)
    src = d.source("istanbul")
    expect(ADMIN not in src and ADMIN[20:] not in src, "the key on a page")
    expect("ankara" in src and "istanbul" in src, "overview: " + src[:500])
    d.shot("overview")
    # A phone's width: the tables scroll inside the page, nothing is cut.
    d.s("POST", "/window/rect", {"width": 390, "height": 844})
    d.shot("overview-phone")
    d.go("/dashboard/devices")
    d.shot("devices-phone")
    d.s("POST", "/window/rect", {"width": 1100, "height": 1000})
    for page, want in (("devices", "pc-ankara"), ("streams", "forms"),
                       ("charts", "<svg"), ("keys", "pc-istanbul")):
        d.go("/dashboard/" + page)
        expect(want in d.source(want), "%s page lacks %s" % (page, want))
        d.shot(page)

    # Create a device key: the secret once, working against the API.
    d.type("input[name=device]", "pc-izmir")
    d.type("input[name=region]", "izmir")
    d.click("form[action='/dashboard/keys'] button")
    expect("Key created" in d.source("Key created"), "no key-created page")
    secret = d.s("GET", "/element/%s/text" % d.find("#secret"))
    expect(secret.startswith("fy_") and len(secret) == 84,
           "the secret: %r" % secret)
    d.shot("key-created")
    expect(api_status(secret) == 200, "the new key does not work")
    d.go("/dashboard/keys")
    expect(secret[20:] not in d.source(), "the secret shown again")
    kid = secret[3:19]
    d.click("form:has(input[value='%s']) button" % kid)
    until = time.time() + 10
    while api_status(secret) != 401 and time.time() < until:
        time.sleep(0.1)
    expect(api_status(secret) == 401, "the revoked key still works")
    expect("revoked" in d.source("revoked"), "the keys page after revoking")
    d.shot("key-revoked")

    # Cross-site posts: refused, nothing created.
    for no_ref, why in ((False, "another site"), (True, "stale")):
        srv = evil_site(no_ref)
        d.s("POST", "/url",
            {"url": "http://127.0.0.1:%d/" % srv.server_address[1]})
        d.click("#go")
        src = d.source(why)
        expect(why in src, "cross-site post (%s): %s" % (why, src[:400]))
        srv.shutdown()
    d.shot("cross-site")
    d.go("/dashboard/keys")
    expect(">evil<" not in d.source(), "a cross-site post created a key")

    # Log out: the old cookie is dead.
    old = d.cookie("ferry_session")["value"]
    expect(page_status("/dashboard", old) == 200, "the cookie before log-out")
    d.click("header form button")
    expect(d.url(URL + "/dashboard/login") == URL + "/dashboard/login", "log-out went to " + d.url())
    d.go("/dashboard")
    expect(d.url(URL + "/dashboard/login") == URL + "/dashboard/login", "a page after log-out")
    expect(page_status("/dashboard", old) == 303, "the old cookie still works")


main()
