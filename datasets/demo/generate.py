#!/usr/bin/env python
"""Regenerate the embedded demo suite (deterministic).

    python datasets/demo/generate.py                 # -> datasets/demo/data (the shipped copy)
    python datasets/demo/generate.py --out /tmp/demo # anywhere else

The library never writes here: ``mvlpt.data.demo.ensure_demo_data()`` uses this folder when it is
present and otherwise generates the same images into ``$MVLPT_CACHE`` (``~/.cache/mvlpt``).
"""
import argparse
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from mvlpt.data.demo import DEMO_TASKS, generate_demo_data  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "data"))
    ap.add_argument("--clean", action="store_true", help="delete --out first")
    a = ap.parse_args()
    if a.clean and os.path.isdir(a.out):
        shutil.rmtree(a.out)
    generate_demo_data(a.out)
    n = sum(len(fs) for _, _, fs in os.walk(a.out))
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(a.out) for f in fs)
    print(f"wrote {len(DEMO_TASKS)} tasks, {n} files, {size / 1e6:.2f} MB to {a.out}")


if __name__ == "__main__":
    main()
