#!/usr/bin/env python3
"""A strict parser of the Prometheus text exposition format 0.0.4.

promtext.py FILE [EXPR...]: parses FILE (exit 1 with the line and the rule
it breaks on anything the format forbids, or that Prometheus would refuse
to ingest), then prints each EXPR evaluated with
    m(NAME, **labels)  the value of the one sample with exactly those
                       labels (None when absent)
    s(NAME, **labels)  the sum over samples whose labels include these
    n(NAME)            how many samples NAME has
    labels(NAME, L)    the sorted set of label L's values of NAME
    types              {family: type}
Only the standard library: the tests install nothing.
"""
import math
import re
import sys

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}
FLOAT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


class Bad(Exception):
    pass


def parse_value(t):
    if t in ("+Inf", "Inf"):
        return math.inf
    if t == "-Inf":
        return -math.inf
    if t == "NaN":
        return math.nan
    if not FLOAT.fullmatch(t):
        raise Bad("bad sample value %r" % t)
    return float(t)


def parse_labels(line, i):
    """Labels from line[i] == '{' on: (dict, index after '}')."""
    labels = {}
    i += 1
    while True:
        if line[i:i + 1] == "}":
            return labels, i + 1
        m = LABEL.match(line, i)
        if not m:
            raise Bad("bad label name at column %d" % (i + 1))
        name = m.group(0)
        if name.startswith("__"):
            raise Bad("label name %r is reserved" % name)
        if name in labels:
            raise Bad("label %r given twice" % name)
        i = m.end()
        if line[i:i + 2] != '="':
            raise Bad("label %r: expected =\"" % name)
        i += 2
        val = []
        while True:
            if i >= len(line):
                raise Bad("label %r: unterminated value" % name)
            c = line[i]
            if c == "\\":
                e = line[i + 1:i + 2]
                if e not in ("\\", '"', "n"):
                    raise Bad("label %r: bad escape \\%s" % (name, e))
                val.append("\n" if e == "n" else e)
                i += 2
            elif c == '"':
                i += 1
                break
            else:
                val.append(c)
                i += 1
        labels[name] = "".join(val)
        if line[i:i + 1] == ",":
            i += 1
        elif line[i:i + 1] != "}":
            raise Bad("label %r: expected , or }" % name)


def family_of(name, types):
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[: -len(suffix)] if name.endswith(suffix) else None
        if base and types.get(base) in ("histogram", "summary"):
            return base
    return name


def parse(text):
    if not text.endswith("\n"):
        raise Bad("the exposition must end with a newline")
    try:
        text.encode("utf-8")
    except UnicodeError:
        raise Bad("not UTF-8")
    types, helps, samples, done, seen = {}, {}, [], set(), set()
    sampled = set()
    current = None
    for no, line in enumerate(text.split("\n")[:-1], 1):
        try:
            if "\r" in line:
                raise Bad("carriage return")
            if line.strip() == "":
                continue
            if line.startswith("#"):
                parts = line.split(None, 3)
                if len(parts) >= 2 and parts[1] in ("HELP", "TYPE"):
                    if len(parts) < 3 or not NAME.fullmatch(parts[2]):
                        raise Bad("%s without a metric name" % parts[1])
                    fam = parts[2]
                    if fam in done or fam in sampled:
                        raise Bad("%s of %s after its samples" % (parts[1], fam))
                    if parts[1] == "HELP":
                        if fam in helps:
                            raise Bad("second HELP for %s" % fam)
                        h = parts[3] if len(parts) > 3 else ""
                        if re.search(r"\\[^\\n]", h.replace("\\\\", "")):
                            raise Bad("bad escape in HELP")
                        helps[fam] = h
                    else:
                        if fam in types:
                            raise Bad("second TYPE for %s" % fam)
                        if len(parts) != 4 or parts[3] not in TYPES:
                            raise Bad("bad TYPE line")
                        types[fam] = parts[3]
                    if current and current != fam:
                        done.add(current)
                    current = fam
                continue
            m = NAME.match(line)
            if not m:
                raise Bad("bad metric name")
            name, i = m.group(0), m.end()
            labels = {}
            if line[i:i + 1] == "{":
                labels, i = parse_labels(line, i)
            rest = line[i:]
            if not rest.startswith(" "):
                raise Bad("expected a space before the value")
            fields = rest.split()
            if len(fields) not in (1, 2):
                raise Bad("expected a value and an optional timestamp")
            value = parse_value(fields[0])
            if len(fields) == 2 and not re.fullmatch(r"-?[0-9]+", fields[1]):
                raise Bad("bad timestamp")
            fam = family_of(name, types)
            if fam in done:
                raise Bad("sample of %s apart from its family's others" % fam)
            if current and current != fam:
                done.add(current)
            current = fam
            sampled.add(fam)
            t = types.get(fam, "untyped")
            if t == "histogram":
                if name == fam:
                    raise Bad("histogram %s: a sample without suffix" % fam)
                if name.endswith("_bucket"):
                    if "le" not in labels:
                        raise Bad("bucket without le")
                    parse_value(labels["le"])
            elif t == "counter" and (value < 0 or math.isnan(value)):
                raise Bad("counter %s is negative" % name)
            key = (name, tuple(sorted(labels.items())))
            if key in seen:
                raise Bad("series given twice: %s %s" % key)
            seen.add(key)
            samples.append((name, labels, value))
        except Bad as e:
            raise Bad("line %d: %s: %r" % (no, e, line))
    check_histograms(types, samples)
    return types, samples


def check_histograms(types, samples):
    for fam, t in types.items():
        if t != "histogram":
            continue
        groups = {}
        for name, labels, value in samples:
            if family_of(name, types) != fam:
                continue
            rest = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
            g = groups.setdefault(rest, {"b": [], "sum": None, "count": None})
            if name.endswith("_bucket"):
                g["b"].append((parse_value(labels["le"]), value))
            elif name.endswith("_sum"):
                g["sum"] = value
            else:
                g["count"] = value
        for rest, g in groups.items():
            b = sorted(g["b"])
            if not b or b[-1][0] != math.inf:
                raise Bad("histogram %s%s: no le=\"+Inf\" bucket" % (fam, rest))
            if any(b[k][1] > b[k + 1][1] for k in range(len(b) - 1)):
                raise Bad("histogram %s%s: buckets not cumulative" % (fam, rest))
            if g["count"] is None or g["sum"] is None:
                raise Bad("histogram %s%s: _sum or _count missing" % (fam, rest))
            if g["count"] != b[-1][1]:
                raise Bad("histogram %s%s: _count is not the +Inf bucket" % (fam, rest))


def main():
    text = open(sys.argv[1], encoding="utf-8").read()
    try:
        types, samples = parse(text)
    except Bad as e:
        print("promtext: %s" % e, file=sys.stderr)
        sys.exit(1)

    def m(name, **want):
        got = [v for n_, l, v in samples if n_ == name and l == want]
        return got[0] if got else None

    def s(name, **want):
        return sum(v for n_, l, v in samples
                   if n_ == name and all(l.get(k) == x for k, x in want.items()))

    def n(name):
        return sum(1 for n_, _, _ in samples if n_ == name)

    def labels(name, label):
        return sorted({l[label] for n_, l, _ in samples if n_ == name and label in l})

    env = {"m": m, "s": s, "n": n, "labels": labels, "types": types}
    for expr in sys.argv[2:]:
        r = eval(expr, env)
        if isinstance(r, float) and r.is_integer():
            r = int(r)
        print(r)


if __name__ == "__main__":
    main()
