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
"""
import argparse
import sys
import traceback

from mvlpt.launch import reset_cfg, setup_cfg  # noqa: F401  (public: used by scripts and tests)

EPILOG = """exit codes: 0 ok, 1 internal error (rerun with --debug), 2 usage/config/input error,
3 training diverged (NaN/inf loss; rerun resumes from the last good checkpoint), 130 interrupted.
Trailing KEY VALUE pairs override config keys (python -m mvlpt --list-keys lists them)."""


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line instead of usage + error
        raise _UsageError(f"{message} (see --help)")


def build_parser():
    p = _Parser(prog="mvlpt", description="Prompt tuning of frozen CLIP models (Dassl-compatible flags).",
                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", type=str, default="", help="path to dataset")
    p.add_argument("--output-dir", type=str, default="", help="output directory")
    p.add_argument("--resume", type=str, default="", help="checkpoint directory (from which the training resumes)")
    p.add_argument("--seed", type=int, default=None, help="fixed seed (any value >= 0, including 0)")
    p.add_argument("--source-domains", type=str, nargs="+", help="source domains for DA/DG")
    p.add_argument("--target-domains", type=str, nargs="+", help="target domains for DA/DG")
    p.add_argument("--transforms", type=str, nargs="+", help="data augmentation methods")
    p.add_argument("--config-file", type=str, default="", help="path to config file")
    p.add_argument("--dataset-config-file", type=str, default="", help="path to config file for dataset setup")
    p.add_argument("--trainer", type=str, default="", help="name of trainer")
    p.add_argument("--backbone", type=str, default="", help="name of CNN backbone")
    p.add_argument("--head", type=str, default="", help="name of head")
    p.add_argument("--eval-only", action="store_true", help="evaluation only")
    p.add_argument("--model-dir", type=str, default="",
                   help="load model from this directory for eval-only mode; without --eval-only, "
                        "initialise the prompts from it before training")
    p.add_argument("--load-epoch", type=int, help="load model weights at this epoch for evaluation")
    p.add_argument("--no-train", action="store_true", help="do not call trainer.train()")
    p.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    p.add_argument("--list-keys", action="store_true", help="print every config key with its default and exit")
    mv = p.add_argument_group("MVLPT's train.py flags (accepted so its scripts run unchanged)")
    mv.add_argument("--dataset", type=str, default="", help="task name(s), comma-separated (= DATASET.DATASET)")
    mv.add_argument("--shots", type=int, help="K shots per class (= DATASET.NUM_SHOTS and NUM_SAMPLES_PER_CLASS)")
    mv.add_argument("--multi-task", action="store_true", help="= DATASET.MULTITASK True")
    mv.add_argument("--multi-task-label_pertask", "--multi-task-label-pertask", dest="multi_task_label_pertask",
                    action="store_true", help="loss masked to each sample's task (= DATASET.MULTITASK_LOSS masked)")
    mv.add_argument("--multi-task-evalkey", type=str, default="average", help="= DATASET.MULTITASK_EVALKEY")
    mv.add_argument("--dataset-coop", action="store_true", help="= DATASET.COOP True")
    mv.add_argument("--cut-contextlen", action="store_true", help="accepted; text is always trimmed (exact)")
    mv.add_argument("--act-ckpt", type=int, default=1, help="> 1: activation checkpointing in both encoders")
    p.add_argument("opts", default=None, nargs=argparse.REMAINDER,
                   help="modify config options using the command-line")
    return p


def _list_keys():
    from mvlpt.config import all_keys, get_cfg_default

    cfg = get_cfg_default()
    for k in all_keys(cfg):
        node = cfg
        for p in k.split("."):
            node = node[p]
        print(f"{k} {node!r}")


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
