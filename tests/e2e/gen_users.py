#!/usr/bin/env python3
"""A users.json like the user-profile team's (one object per user, keyed by
email, with emulator settings, device identifiers, library and reading
settings and free-form preferences), generated from a fixed seed so that
every run writes the same bytes.

    gen_users.py [--count N] [--seed S] [--edited] [-o FILE]

--edited writes the same users with a known set of edits (the scenarios
check that an import of it changes exactly those rows): every 50th user's
reading font size, a preference changed, one removed and one added; every
100th user's display name; every 200th user's emulator settings gone
(null); every 40th user (from the 20th) not in the file at all. Large
counts stream to the file, one user at a time.
"""
import argparse
import json
import random
import sys

FIRST = ["Ana", "Bo", "Zoë", "Łukasz", "Søren", "Mei", "Ngozi", "Oğuz",
         "Amélie", "Jürgen", "Ахмед", "Ιωάννα", "Sakura 桜", "José", "Chloé",
         "Priyā", "Dmitrij", "Fatima", "Nils", "Ravi"]
LAST = ["Müller", "García", "Nowak", "Ødegård", "Tanaka", "Okafor", "Yılmaz",
        "Dubois", "Smith", "Иванов", "Παπαδοπούλου", "山田", "Silva", "Kim"]
THEMES = ["dark", "light", "sepia", None]
VIEWS = ["grid", "list"]
TITLES = ["Dune", "Anna Karenina", "Der Zauberberg", "百年の孤独",
          "Les Misérables \"abridged\"", "Война и мир", None]


def ts(rng):
    return "2025-%02d-%02dT%02d:%02d:%02dZ" % (
        rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23),
        rng.randint(0, 59), rng.randint(0, 59))


def mac(rng):
    return ":".join("%02x" % rng.randint(0, 255) for _ in range(6))


def preferences(rng, i):
    p = {}
    if rng.random() < 0.8:
        p["startup_page"] = rng.choice(["library", "store", "last_book"])
    if rng.random() < 0.6:
        p["sort"] = {"by": rng.choice(["title", "author", "recent"]),
                     "desc": rng.random() < 0.5}
    if rng.random() < 0.5:
        p["notifications"] = rng.random() < 0.5
    if rng.random() < 0.4:
        p["last_search"] = rng.choice(["dune", "tolstoy", "東京", "é\"x\"\n"])
    if rng.random() < 0.3:
        p["recent_asins"] = ["B%05d" % rng.randint(0, 99999)
                             for _ in range(rng.randint(0, 4))]
    if rng.random() < 0.2:
        p["zoom"] = round(rng.uniform(0.5, 3.0), 3)
    if rng.random() < 0.1:
        p["nothing"] = None
    if rng.random() < 0.1:
        p["custom key %d" % (i % 7)] = {"nested": {"deep": [1, 2.5, "x"]}}
    return p


def user(rng, i):
    name = "%s %s" % (rng.choice(FIRST), rng.choice(LAST))
    u = {
        "avd_name": "KindleAVD_%d" % i,
        "display_name": name,
        "created_at": ts(rng),
        "auth_state": rng.random() < 0.7,
    }
    r = rng.random()
    if r < 0.6:
        u["last_used"] = ts(rng)
    elif r < 0.8:
        u["last_used"] = None  # present but null
    # else: absent (the import notes both forms)
    if rng.random() < 0.3:
        u["notes"] = rng.choice(["vip", "läuft", "needs 2FA", ""])
    if rng.random() < 0.9:
        u["emulator_settings"] = {
            "hw_overlays_disabled": rng.random() < 0.5,
            "animations_disabled": rng.random() < 0.5,
            "sleep_disabled": rng.random() < 0.5,
            "memory_optimizations_applied": rng.random() < 0.5,
            "memory_optimization_timestamp":
                rng.randint(1700000000, 1790000000)
                if rng.random() < 0.7 else None,
        }
    elif rng.random() < 0.5:
        u["emulator_settings"] = None
    if rng.random() < 0.95:
        u["device_identifiers"] = {
            "hw_wifi_mac": mac(rng),
            "hw_ethernet_mac": mac(rng),
            "serial_number": "EMULATOR%08d" % rng.randint(0, 10**8 - 1),
            "build_id": rng.choice(["TQ3A.230805.001", "UP1A.231005.007"]),
            "android_id": "%016x" % rng.getrandbits(64),
        }
    u["library_settings"] = {
        "view_type": rng.choice(VIEWS),
        "group_by_series": rng.random() < 0.5,
        "actively_reading_title": rng.choice(TITLES),
        "filter_book_count": rng.randint(0, 500) if rng.random() < 0.8
        else None,
    }
    if rng.random() < 0.85:
        u["reading_settings"] = {
            "theme": rng.choice(THEMES),
            "font_size": rng.randint(6, 24),
            "brightness": round(rng.random(), 4),
            "highlight_menu_disabled": rng.random() < 0.5,
            "word_wise_disabled": rng.random() < 0.5,
        }
    u["preferences"] = preferences(rng, i)
    return "user%05d.%s@example.com" % (i, rng.choice(["x", "ü", "y"])), u


def edit(i, email, u):
    """The edited variant's change to user i; None drops the user."""
    if i % 40 == 20:
        return None
    if i % 50 == 0:
        rs = u.get("reading_settings")
        if rs:
            rs["font_size"] = rs["font_size"] + 1
        p = u["preferences"]
        p["startup_page"] = "edited-%d" % i
        p.pop("sort", None)
        p["added"] = {"by": "edit", "n": i}
    if i % 100 == 0:
        u["display_name"] = u["display_name"] + " (edited)"
    if i % 200 == 0:
        u["emulator_settings"] = None
    return u


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=10)
    ap.add_argument("--edited", action="store_true")
    ap.add_argument("-o", "--output")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    out = open(a.output, "w", encoding="utf-8") if a.output else sys.stdout
    out.write("{")
    first = True
    for i in range(a.count):
        email, u = user(rng, i)
        if a.edited:
            u = edit(i, email, u)
            if u is None:
                continue
        body = json.dumps(u, ensure_ascii=False, indent=2)
        out.write("%s\n  %s: %s" % ("" if first else ",",
                                    json.dumps(email, ensure_ascii=False),
                                    body.replace("\n", "\n  ")))
        first = False
    out.write("\n}\n")
    if a.output:
        out.close()


if __name__ == "__main__":
    main()
