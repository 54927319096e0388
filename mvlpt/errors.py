"""User-facing errors. The CLI prints ``str(err)`` as one line on stderr and exits with ``err.exit_code``.

Exit codes (also in ``python -m mvlpt --help``):

* 0 -- success
* 1 -- unexpected internal error (a bug: rerun with ``--debug`` for the traceback)
* 2 -- usage / configuration / input error (bad flag, unknown key/trainer/dataset/backbone,
  missing or malformed file, incompatible checkpoint)
* 3 -- training diverged (NaN/inf loss); the last good checkpoint is kept
"""


class MvlptError(Exception):
    """Base class of errors that are the user's to fix; carries the process exit code."""

    exit_code = 2


class ConfigError(MvlptError, ValueError):
    """Bad configuration: unknown key, wrong type, missing or malformed yaml file."""

    exit_code = 2


class CheckpointError(MvlptError, ValueError):
    """A checkpoint that does not exist, is corrupt, or belongs to another method/shape."""

    exit_code = 2


class NonFiniteLossError(MvlptError, FloatingPointError):
    """The training loss became NaN or inf."""

    exit_code = 3


def run_main(prog: str, fn, argv=None) -> int:
    """Run a command-line entry point ``fn(argv)``; a :class:`MvlptError` becomes one line on stderr
    (``<prog>: error: <message>``) and its exit code instead of a traceback."""
    import sys

    try:
        return fn(argv)
    except MvlptError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return e.exit_code
