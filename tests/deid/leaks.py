"""Counting leaked markers: every marker of a make_marked.py manifest (and each date also written
YYYY-MM-DD) looked for in every byte of every file under a folder."""
import os


def needles(markers):
    """The strings to look for: every marker, and each 8-digit date also as YYYY-MM-DD."""
    out = set(markers)
    for m in markers:
        if len(m) == 8 and m.isdigit():
            out.add(f"{m[:4]}-{m[4:6]}-{m[6:]}")
    return sorted(out)


DIGITS_AND_DOTS = frozenset(b"0123456789.")


def inside_keyed_uid(data, at):
    """True if the bytes at `at` lie inside a UID eden made ("2.25." + the decimal of a keyed
    HMAC): its 39 digits are random, so any 8-digit date marker turns up in them now and then
    (about 1 run in 50 with this corpus's 322 date markers) without anything having leaked."""
    start = at
    while start > 0 and data[start - 1] in DIGITS_AND_DOTS:
        start -= 1
    return start < at and data.startswith(b"2.25.", start) and start + 5 <= at


def leaks(folder, markers):
    """[(relative path, marker)] for every marker found in any file under `folder`. An 8-digit
    date marker inside a keyed UID eden generated is chance, not a leak (inside_keyed_uid)."""
    found = []
    wanted = [(n, n.encode()) for n in needles(markers)]
    for root, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            data = open(path, "rb").read()
            lower = data.lower()
            for text, raw in wanted:
                # Case-insensitively: a name written in lower case in a report is still a name.
                needle = raw.lower()
                at = lower.find(needle)
                while at != -1 and text.isdigit() and inside_keyed_uid(lower, at):
                    at = lower.find(needle, at + 1)
                if at != -1:
                    found.append((os.path.relpath(path, folder), text))
    return found
