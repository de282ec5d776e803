#!/usr/bin/python3
"""Reads an eden dataset back with code that is not eden's (Python's json and tarfile, PIL) and
checks every package against the CSV: metadata.jsonl and metadata/<split>.jsonl, llava.json(l),
the WebDataset shards and their index. Used by the integration tests, and on its own:

  tests/integration/dataset_check.py DATASET_ROOT_FOLDER [--shard-bytes N] [--shard-samples N]

(the folder holding the CSV, e.g. ./eden-output/eden-dataset-vlms/sample-test). Prints counts;
exit 1 with the first failed check."""
import argparse
import csv
import glob
import hashlib
import json
import os
import sys


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def read_csv_rows(base):
    (path,) = [p for p in glob.glob(os.path.join(base, "*.csv"))]
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def check_dataset_packages(out, shard_samples=None, shard_bytes=None, prefix="eden-dataset-vlms/sample-test"):
    """Reads every package back; returns {instance_id: split}. `out` is the output folder (the
    dataset is under `prefix` in it)."""
    import tarfile
    from PIL import Image
    base = os.path.join(out, prefix) if prefix else out
    rows = read_csv_rows(base)
    stored = {r["instance_id"]: r for r in rows if r["status"] == "stored"}
    assert stored, "nothing stored"
    # metadata.jsonl: every stored image exactly once, its JPEG there and readable at its size.
    meta = read_jsonl(os.path.join(base, "metadata.jsonl"))
    ids = [m["instance_id"] for m in meta]
    assert sorted(ids) == sorted(stored), "metadata.jsonl != the stored images"
    keys = set(meta[0])
    for m in meta:
        assert set(m) == keys, "metadata lines with different keys"
        assert m["file_name"] == f"images-jpg/{m['instance_id']}.jpg", m["file_name"]
        with Image.open(os.path.join(base, m["file_name"])) as im:
            im.load()
            assert im.size == (m["columns"], m["rows"]) or max(im.size) < max(m["columns"], m["rows"]), \
                (im.size, m["columns"], m["rows"])
        row = stored[m["instance_id"]]
        assert m["split"] == row["split"] and m["split"], (m["split"], row["split"])
        for k in ("indication", "comparison", "technique", "findings", "impression", "caption"):
            assert (m[k] or "") == row[k], (k, m[k], row[k])
    # The per-split files partition metadata.jsonl.
    parts = []
    for path in sorted(glob.glob(os.path.join(base, "metadata", "*.jsonl"))):
        split = os.path.basename(path)[:-len(".jsonl")]
        lines = read_jsonl(path)
        assert all(x["split"] == split for x in lines), path
        parts += [x["instance_id"] for x in lines]
    assert sorted(parts) == sorted(ids), "metadata/<split>.jsonl do not partition metadata.jsonl"
    # LLaVA: each stored image with a caption exactly once; .json and .jsonl agree.
    conversations = 0
    if os.path.exists(os.path.join(base, "llava.json")):
        conv = json.load(open(os.path.join(base, "llava.json"), encoding="utf-8"))
        assert conv == read_jsonl(os.path.join(base, "llava.jsonl")), "llava.json != llava.jsonl"
        captioned = sorted(m["instance_id"] for m in meta if m["caption"])
        assert sorted(c["id"] for c in conv) == captioned, "LLaVA != the captioned images"
        by_id = {m["instance_id"]: m for m in meta}
        for c in conv:
            human, gpt = c["conversations"]
            assert human["from"] == "human" and human["value"].startswith("<image>\n"), human
            assert gpt["from"] == "gpt" and gpt["value"] == by_id[c["id"]]["caption"], (gpt, c["id"])
            assert c["image"] == by_id[c["id"]]["file_name"]
        conversations = len(conv)
    # WebDataset: shards listed in the index with their SHA-256; a sample is jpg+json+txt; every
    # stored image in exactly one shard, of its own split; limits respected.
    index_path = os.path.join(base, "shards", "index.json")
    shards = 0
    if os.path.exists(index_path):
        index = json.load(open(index_path))
        on_disk = sorted(f for f in os.listdir(os.path.join(base, "shards")) if f.endswith(".tar"))
        assert on_disk == sorted(os.path.basename(s["name"]) for s in index["shards"]), (on_disk, index["shards"])
        seen = []
        for shard in index["shards"]:
            path = os.path.join(base, shard["name"])
            data = open(path, "rb").read()
            assert sha256(data) == shard["sha256"] and len(data) == shard["bytes"], shard["name"]
            if shard_bytes is not None:
                assert len(data) <= shard_bytes or shard["samples"] == 1, (shard["name"], len(data))
            if shard_samples is not None:
                assert shard["samples"] <= shard_samples, shard
            members = {}
            with tarfile.open(path) as tar:
                for info in tar.getmembers():
                    key, ext = info.name.split(".", 1)
                    members.setdefault(key, {})[ext] = tar.extractfile(info).read()
            assert len(members) == shard["samples"], (shard["name"], len(members), shard["samples"])
            for key, sample in members.items():
                assert set(sample) == {"jpg", "json", "txt"}, (key, set(sample))
                m = json.loads(sample["json"])
                assert m["split"] == shard["split"], (key, m["split"], shard["split"])
                assert key == m["instance_id"].replace("%", "%25").replace(".", "%2E"), (key, m["instance_id"])
                assert sample["jpg"] == open(os.path.join(base, m["file_name"]), "rb").read(), key
                assert sample["txt"].decode() == (m["caption"] or ""), key
                seen.append(m["instance_id"])
        assert sorted(seen) == sorted(stored), "shards != the stored images (missing or twice)"
        shards = len(index["shards"])
    splits = {i: m["split"] for i, m in zip(ids, meta)}
    check_dataset_packages.last = {"stored": len(stored), "metadata_lines": len(meta), "llava": conversations,
                                   "shards": shards, "splits": {s: list(splits.values()).count(s)
                                                                for s in sorted(set(splits.values()))}}
    return splits


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dataset")
    p.add_argument("--shard-bytes", type=int)
    p.add_argument("--shard-samples", type=int)
    a = p.parse_args()
    try:
        check_dataset_packages(a.dataset, a.shard_samples, a.shard_bytes, prefix="")
    except AssertionError as e:
        print(f"dataset check FAILED: {e}"[:2000])
        return 1
    print(json.dumps(check_dataset_packages.last))
    return 0


if __name__ == "__main__":
    sys.exit(main())
