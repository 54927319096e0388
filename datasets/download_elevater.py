#!/usr/bin/env python
"""Fetch ELEVATER task files into the layout ``mvlpt.data`` reads (the vision-datasets layout).

    python datasets/download_elevater.py cifar-10 --root $DATA
    python datasets/download_elevater.py all --root $DATA --sas "?sv=...&sig=..."

For each task it downloads ``<container>/<root_folder>/<file>`` for the train/test (and val)
index files, their zips and the labelmap into ``$DATA/<root_folder>/`` (zips are not extracted;
existing files are skipped). The ELEVATER DataDownload README (2023) says a read SAS token must be
appended to each URL (``--sas``); whether anonymous access still works could not be checked.
Standard library only (urllib).
"""
import argparse
import os
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from mvlpt.data.datasets.elevater import ELEVATER_TASK_NAMES, ELEVATER_TASKS  # noqa: E402

CONTAINER = "https://cvinthewildeus.blob.core.windows.net/datasets"


def files_of(task, with_val=True):
    spec = ELEVATER_TASKS[task]
    out = []
    for usage in ("train", "val", "test") if with_val else ("train", "test"):
        if spec.get(usage):
            out += [f for f in spec[usage] if f]
    if spec.get("labelmap"):
        out.append(spec["labelmap"])
    return list(dict.fromkeys(out))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("task", help="ELEVATER task name or 'all'")
    ap.add_argument("--root", default=os.environ.get("DATA", ""))
    ap.add_argument("--container", default=CONTAINER)
    ap.add_argument("--sas", default="", help="SAS query string appended to each URL")
    ap.add_argument("--no-val", action="store_true", help="skip the hub val split (MVLPT never uses it)")
    ap.add_argument("--dry-run", action="store_true", help="only print the URLs and destinations")
    a = ap.parse_args()
    if not a.root:
        ap.error("--root (or $DATA) is required")
    tasks = ELEVATER_TASK_NAMES if a.task == "all" else [a.task]
    for t in tasks:
        if t not in ELEVATER_TASKS:
            ap.error(f"unknown task {t!r}; choose from {', '.join(ELEVATER_TASK_NAMES)}")
        folder = ELEVATER_TASKS[t]["root_folder"]
        for f in files_of(t, not a.no_val):
            url = f"{a.container}/{folder}/{f}{a.sas}"
            dst = os.path.join(os.path.abspath(a.root), folder, f)
            if os.path.isfile(dst):
                print(f"exists {dst}")
                continue
            print(f"{url} -> {dst}")
            if a.dry_run:
                continue
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            tmp = dst + ".part"
            urllib.request.urlretrieve(url, tmp)
            os.replace(tmp, dst)


if __name__ == "__main__":
    main()
