"""A parser of the Prometheus text exposition format (version 0.0.4), written from the format's
specification (prometheus.io/docs/instrumenting/exposition_formats), not from eden's code: the
tests read eden's /metrics with it. Strict: anything the format does not allow raises ValueError."""
import math
import re

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def _value(text):
    if text in ("+Inf", "Inf"):
        return math.inf
    if text == "-Inf":
        return -math.inf
    if text == "NaN":
        return math.nan
    return float(text)


def _labels(text, line):
    """{a="x",b="y\\"z"} -> {"a": "x", "b": 'y"z'}"""
    out, i = {}, 0
    while i < len(text):
        m = re.match(rf"\s*({LABEL})\s*=\s*\"", text[i:])
        if not m:
            raise ValueError(f"bad label in: {line}")
        name, i = m.group(1), i + m.end()
        value = []
        while True:
            if i >= len(text):
                raise ValueError(f"unterminated label value in: {line}")
            c = text[i]
            if c == "\\":
                nxt = text[i + 1] if i + 1 < len(text) else ""
                if nxt not in ("\\", '"', "n"):
                    raise ValueError(f"bad escape in: {line}")
                value.append({"\\": "\\", '"': '"', "n": "\n"}[nxt])
                i += 2
            elif c == '"':
                i += 1
                break
            else:
                value.append(c)
                i += 1
        if name in out:
            raise ValueError(f"label {name} twice in: {line}")
        out[name] = "".join(value)
        m = re.match(r"\s*,?", text[i:])
        i += m.end()
    return out


def parse(text):
    """Returns {family: {"type": t, "help": h, "samples": [(name, labels, value)]}}. Checks: HELP
    and TYPE at most once per family and before its samples, samples of a family together, sample
    names of the family (with _bucket/_sum/_count for histograms), histogram buckets cumulative
    with an le="+Inf" bucket equal to _count, counters not negative."""
    if text and not text.endswith("\n"):
        raise ValueError("the exposition does not end with a newline")
    families, current, seen_done = {}, None, set()

    def family_of(sample):
        for base in (sample, re.sub(r"_(bucket|sum|count)$", "", sample)):
            if base in families:
                return base
        return None

    for line in text.split("\n")[:-1]:
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                if not re.fullmatch(NAME, name):
                    raise ValueError(f"bad metric name: {line}")
                f = families.setdefault(name, {"type": "untyped", "help": None, "samples": [], "typed": False})
                if f["samples"]:
                    raise ValueError(f"{parts[1]} after samples of {name}")
                if parts[1] == "HELP":
                    if f["help"] is not None:
                        raise ValueError(f"HELP twice for {name}")
                    f["help"] = parts[3] if len(parts) > 3 else ""
                else:
                    if f["typed"] or len(parts) != 4 or parts[3] not in TYPES:
                        raise ValueError(f"bad or repeated TYPE: {line}")
                    f["type"], f["typed"] = parts[3], True
                if current is not None and current != name:
                    seen_done.add(current)
                current = name
            continue
        if not line.strip():
            continue
        m = re.fullmatch(rf"({NAME})(\{{.*\}})?\s+(\S+)(\s+-?\d+)?", line)
        if not m:
            raise ValueError(f"bad sample line: {line}")
        sample, labels = m.group(1), _labels(m.group(2)[1:-1], line) if m.group(2) else {}
        fam = family_of(sample)
        if fam is None:
            fam = sample
            families[fam] = {"type": "untyped", "help": None, "samples": [], "typed": False}
        if fam in seen_done:
            raise ValueError(f"samples of {fam} are not together")
        if current is not None and current != fam:
            seen_done.add(current)
        current = fam
        f = families[fam]
        if f["type"] == "histogram" and sample == fam:
            raise ValueError(f"histogram {fam} has a bare sample")
        value = _value(m.group(3))
        if f["type"] == "counter" and value < 0:
            raise ValueError(f"negative counter: {line}")
        f["samples"].append((sample, labels, value))

    for name, f in families.items():
        if f["type"] != "histogram":
            continue
        series = {}
        for sample, labels, value in f["samples"]:
            key = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
            s = series.setdefault(key, {"buckets": [], "sum": None, "count": None})
            if sample.endswith("_bucket"):
                s["buckets"].append((_value(labels["le"]), value))
            elif sample.endswith("_sum"):
                s["sum"] = value
            elif sample.endswith("_count"):
                s["count"] = value
        for key, s in series.items():
            bounds = [b for b, _ in s["buckets"]]
            if bounds != sorted(bounds) or not bounds or bounds[-1] != math.inf:
                raise ValueError(f"{name}{key}: buckets not sorted or no +Inf bucket")
            counts = [c for _, c in s["buckets"]]
            if any(b < a for a, b in zip(counts, counts[1:])):
                raise ValueError(f"{name}{key}: buckets not cumulative")
            if s["count"] != counts[-1] or s["sum"] is None:
                raise ValueError(f"{name}{key}: _count != +Inf bucket, or no _sum")
    for f in families.values():
        f.pop("typed", None)
    return families


def value(families, name, **labels):
    """The sum of the samples named `name` whose labels include `labels`."""
    base = name if name in families else re.sub(r"_(bucket|sum|count)$", "", name)
    return sum(v for s, l, v in families.get(base, {"samples": []})["samples"]
               if s == name and all(l.get(k) == w for k, w in labels.items()))
