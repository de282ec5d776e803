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


def leaks(folder, markers):
    """[(relative path, marker)] for every marker found in any file under `folder`."""
    found = []
    wanted = [(n, n.encode()) for n in needles(markers)]
    for root, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            data = open(path, "rb").read()
            lower = data.lower()
            for text, raw in wanted:
                # Case-insensitively: a name written in lower case in a report is still a name.
                if raw.lower() in lower:
                    found.append((os.path.relpath(path, folder), text))
    return found
