"""``python -m mvlpt ...``: same as ``python train.py ...``."""
import sys

from mvlpt.cli import main

if __name__ == "__main__":
    sys.exit(main())
