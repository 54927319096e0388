"""Command line: ``python train.py`` / ``python -m mvlpt`` / ``mvlpt`` with Dassl's flags.

    python train.py --root DATA --trainer CoOp --backbone ViT-B/16 \\
        --config-file configs/trainers/CoOp/vit_b16.yaml --dataset-config-file configs/datasets/x.yaml \\
        --output-dir output/coop --seed 1  OPTIM.MAX_EPOCH 5

Exit codes: 0 ok; 1 internal error (a bug; ``--debug`` shows the traceback); 2 usage / config /
input error (unknown trainer, dataset, backbone or config key, missing or malformed file,
incompatible checkpoint); 3 training diverged (NaN/inf loss; the last good checkpoint is kept and a
rerun resumes from it); 130 interrupted. Errors are one line on stderr; the full traceback goes to
``OUTPUT_DIR/log.txt`` (when it exists) and, with ``--debug``, to stderr.

Distributed: ``torchrun --nproc_per_node N train.py ...`` (gloo on CPU, nccl on GPU).

``$MVLPT_OPTS``: more ``KEY VALUE`` config options, split like a shell line (``shlex``) and appended
after the command line's own, so they win over the yaml files, the flags and the command line's pairs.
A test or a user shrinks an unmodified script's runs with it, e.g. ``MVLPT_OPTS="OPTIM.MAX_EPOCH 1
MODEL.BACKBONE.PRETRAINED none" bash scripts/coop/main.sh ...``; the log names them. Flags (``--x``)
are not accepted there (exit code 2).
"""
import os
import shlex
import sys
import traceback

from mvlpt.launch import EPILOG, UsageError as _UsageError, build_parser, reset_cfg, setup_cfg  # noqa: F401  (public)


def _list_keys():
    from mvlpt.config import all_keys, get_cfg_default

    cfg = get_cfg_default()
    for k in all_keys(cfg):
        node = cfg
        for p in k.split("."):
            node = node[p]
        print(f"{k} {node!r}")


def env_opts(environ=None):
    """The ``KEY VALUE`` pairs of ``$MVLPT_OPTS`` (a list, ``[]`` when unset or blank).

    >>> env_opts({"MVLPT_OPTS": "OPTIM.MAX_EPOCH 1 TRAINER.COOP.CTX_INIT 'a photo of a'"})
    ['OPTIM.MAX_EPOCH', '1', 'TRAINER.COOP.CTX_INIT', 'a photo of a']
    """
    raw = (os.environ if environ is None else environ).get("MVLPT_OPTS", "")
    try:
        opts = shlex.split(raw)
    except ValueError as e:
        raise _UsageError(f"MVLPT_OPTS cannot be split into KEY VALUE pairs ({e}): {raw!r}") from None
    flags = [o for o in opts if o.startswith("--")]
    if flags:
        raise _UsageError(f"MVLPT_OPTS holds KEY VALUE config options only, got the flag {flags[0]}; "
                          f"put flags on the command line")
    if len(opts) % 2:
        raise _UsageError(f"MVLPT_OPTS needs KEY VALUE pairs, got an odd number of words ({len(opts)}): {raw!r}")
    return opts


def _run(args, state):
    from mvlpt.launch import launch

    launch(args, state)
    return 0


def main(argv=None):
    """Entry point; returns the exit code (see module docstring)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    state = {}
    try:
        args = build_parser().parse_args(argv)
        if args.list_keys:
            _list_keys()
            return 0
        if args.opts and args.opts[0] == "--":
            args.opts = args.opts[1:]
        flags = [o for o in args.opts[0::2] if o.startswith("--")]
        if flags:
            raise _UsageError(f"{flags[0]} must come before the KEY VALUE config options "
                              f"(Dassl syntax: flags first, then KEY VALUE pairs)")
        args.env_opts = env_opts()
        args.opts = list(args.opts) + args.env_opts
        return _run(args, state)
    except _UsageError as e:
        print(f"mvlpt: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mvlpt: interrupted (rerun the same command to resume from the last checkpoint)", file=sys.stderr)
        return 130
    except BaseException as e:  # noqa: BLE001 - one clear line; traceback to log.txt / --debug
        if isinstance(e, SystemExit):
            raise
        from mvlpt.errors import MvlptError

        tb = traceback.format_exc()
        if isinstance(e, MvlptError):
            line, code = f"mvlpt: error: {e}", e.exit_code
        else:
            first = str(e).splitlines()[0] if str(e) else ""
            line = (f"mvlpt: internal error: {type(e).__name__}: {first} "
                    f"(rerun with --debug for the traceback)")
            code = 1
        if state.get("log_path"):
            try:
                with open(state["log_path"], "a", encoding="utf-8") as f:
                    f.write(line + "\n" + tb)
            except OSError:
                pass
        sys.stdout.flush()
        if debug:
            print(tb, file=sys.stderr, end="")
        print(line, file=sys.stderr)
        return code
    finally:
        from mvlpt.launch import teardown_logging

        teardown_logging()
        try:
            import torch.distributed as tdist

            if tdist.is_available() and tdist.is_initialized():
                tdist.destroy_process_group()
        except Exception:  # noqa: BLE001
            pass
