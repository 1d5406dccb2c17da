#!/usr/bin/env python3
"""rules_check.py KIND FILE METRICS: checks docs/operations.md's YAML.

KIND "rules": a Prometheus rules file: groups of rules, each with alert,
expr and labels.severity; every ferry_* name in an expr is a family (or a
histogram's _bucket/_sum/_count) of the exposition METRICS.
KIND "scrape": a scrape config whose job scrapes /metrics.
The YAML is parsed with PyYAML when it is installed (Debian python3-yaml);
without it the structural checks still run on a strict subset reader
good for these files (block mappings and sequences of plain or quoted
scalars, ">" folded scalars).
"""
import re
import sys


def subset_load(text):
    """Block-style YAML of mappings, sequences and scalars; raises on
    anything else (tabs, flow mappings, odd indentation)."""
    lines = []
    for no, raw in enumerate(text.split("\n"), 1):
        if "\t" in raw:
            raise ValueError("line %d: tab" % no)
        if raw.strip() == "" or raw.lstrip().startswith("#"):
            continue
        lines.append((len(raw) - len(raw.lstrip(" ")), raw.strip(), no))
    pos = [0]

    def scalar(s, no):
        if s.startswith('"'):
            if not s.endswith('"') or len(s) < 2:
                raise ValueError("line %d: unterminated string" % no)
            return s[1:-1]
        if s.startswith("["):
            if not s.endswith("]"):
                raise ValueError("line %d: unterminated list" % no)
            return [scalar(x.strip(), no) for x in s[1:-1].split(",") if x.strip()]
        if s.startswith(("{", "'", "&", "*", "!", "|")):
            raise ValueError("line %d: unsupported %r" % (no, s[0]))
        return s

    def block(indent):
        if pos[0] >= len(lines):
            raise ValueError("empty block")
        ind, s, no = lines[pos[0]]
        if ind != indent:
            raise ValueError("line %d: indentation %d, expected %d" % (no, ind, indent))
        if s.startswith("- "):
            out = []
            while pos[0] < len(lines) and lines[pos[0]][0] == indent and lines[pos[0]][1].startswith("- "):
                ind, s, no = lines[pos[0]]
                # "- key: v" opens a mapping indented two further
                lines[pos[0]] = (indent + 2, s[2:], no)
                out.append(block(indent + 2))
            return out
        out = {}
        while pos[0] < len(lines) and lines[pos[0]][0] == indent and not lines[pos[0]][1].startswith("- "):
            ind, s, no = lines[pos[0]]
            m = re.match(r"([A-Za-z_][A-Za-z0-9_]*):(?: (.*))?$", s)
            if not m:
                raise ValueError("line %d: not 'key: value': %r" % (no, s))
            key, val = m.group(1), m.group(2)
            if key in out:
                raise ValueError("line %d: key %r twice" % (no, key))
            pos[0] += 1
            if val == ">":
                parts = []
                while pos[0] < len(lines) and lines[pos[0]][0] > indent:
                    parts.append(lines[pos[0]][1])
                    pos[0] += 1
                out[key] = " ".join(parts) + "\n"
            elif val is None:
                out[key] = block(lines[pos[0]][0]) if pos[0] < len(lines) and lines[pos[0]][0] > indent else None
            else:
                out[key] = scalar(val, no)
        if pos[0] < len(lines) and lines[pos[0]][0] > indent:
            raise ValueError("line %d: unexpected indentation" % lines[pos[0]][2])
        return out

    v = block(0)
    if pos[0] != len(lines):
        raise ValueError("line %d: unexpected" % lines[pos[0]][2])
    return v


def load(text):
    """With PyYAML, the subset reader must agree with it (so that it is
    trusted where PyYAML is missing)."""
    mine = subset_load(text)
    try:
        import yaml
    except ImportError:
        return mine
    theirs = yaml.safe_load(text)
    if theirs != mine:
        raise SystemExit("the subset reader disagrees with PyYAML")
    return theirs


def main():
    kind, path = sys.argv[1], sys.argv[2]
    text = open(path).read()
    doc = load(text)
    if kind == "scrape":
        jobs = doc["scrape_configs"]
        assert any(j.get("metrics_path", "/metrics") == "/metrics" for j in jobs), jobs
        print("ok")
        return
    sys.path.insert(0, __file__.rsplit("/", 1)[0])
    import promtext
    types, _ = promtext.parse(open(sys.argv[3]).read())
    n = 0
    for g in doc["groups"]:
        assert g["name"] and g["rules"], g
        for r in g["rules"]:
            assert set(r) <= {"alert", "expr", "for", "labels", "annotations"}, r
            assert r["alert"] and r["expr"] and r["labels"]["severity"], r
            if "for" in r:
                assert re.fullmatch(r"[0-9]+[smhd]", r["for"]), r["for"]
            for name in re.findall(r"\bferry_[a-z_]+", r["expr"]):
                base = re.sub(r"_(bucket|sum|count)$", "", name)
                if name not in types and base not in types:
                    raise SystemExit("rule %s: %s is not served by /metrics" % (r["alert"], name))
            n += 1
    print(n)


if __name__ == "__main__":
    main()
