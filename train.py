"""Dassl-compatible training script: ``python train.py --trainer CoOp --config-file ... KEY VALUE``.

See ``python train.py --help`` and :mod:`mvlpt.cli` (exit codes, distributed launch).
"""
import sys

from mvlpt.cli import main

if __name__ == "__main__":
    sys.exit(main())
