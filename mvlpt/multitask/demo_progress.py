"""Per-epoch progress of the demo's runs, read back from each run's ``log.txt``, and the loss curves.

The engine logs, per epoch, a progress line (``epoch [e/E] batch [b/B] ... loss x (epoch mean) acc y
(epoch mean) ...``; the demo sets ``TRAIN.PRINT_FREQ`` so that there is one per epoch, on its last
batch) and, with ``TEST.FINAL_MODEL best_val``, a validation block (``Evaluate on the *val* set`` ...
``* accuracy: z%``). :func:`epoch_history` turns them into one record per epoch;
:func:`epoch_lines` formats them; :func:`plot_loss_curves` draws train loss per epoch.
"""
import os
import re
from typing import Dict, List

__all__ = ["epoch_history", "epoch_lines", "plot_loss_curves"]

_EPOCH = re.compile(r"^epoch \[(\d+)/(\d+)\] batch \[(\d+)/(\d+)\].*?\bloss [-\d.naninf]+ \(([-\d.naninf]+)\)"
                    r".*?\bacc [-\d.]+ \(([-\d.]+)\)")
_ACC = re.compile(r"^\* accuracy: ([-\d.]+)%$")


def epoch_history(run_dir: str) -> List[Dict]:
    """``[{"epoch", "epochs", "loss", "train_acc", "val_acc" (or None)}]`` from ``run_dir/log.txt``
    (the epoch means of the last batch's progress line; a rerun's later lines win)."""
    path = os.path.join(run_dir, "log.txt")
    if not os.path.isfile(path):
        return []
    hist: Dict[int, Dict] = {}
    cur, in_val = None, False
    with open(path, encoding="utf-8", errors="replace") as f:
        for ln in f:
            s = ln.strip()
            m = _EPOCH.match(s)
            if m:
                e, n, b, nb = (int(m.group(i)) for i in range(1, 5))
                if b == nb:
                    cur = hist[e] = {"epoch": e, "epochs": n, "loss": float(m.group(5)),
                                     "train_acc": float(m.group(6)), "val_acc": None}
                continue
            if s.startswith("Evaluate on the"):
                in_val = "*val*" in s
                continue
            m = _ACC.match(s)
            if m and in_val and cur is not None and cur["val_acc"] is None:
                cur["val_acc"] = float(m.group(1))
    return [hist[e] for e in sorted(hist)]


def epoch_lines(run_dir: str, name: str, every: int = 1) -> List[str]:
    """One line per epoch: ``name  epoch e/E  loss x  train acc y%  val acc z%``."""
    out = []
    hist = epoch_history(run_dir)
    for h in hist:
        if (h["epoch"] - 1) % every and h["epoch"] != h["epochs"]:
            continue
        val = f"  val acc {h['val_acc']:5.1f}%" if h["val_acc"] is not None else ""
        out.append(f"{name}  epoch {h['epoch']:>2}/{h['epochs']}  loss {h['loss']:.3f}  "
                   f"train acc {h['train_acc']:5.1f}%{val}")
    return out


def plot_loss_curves(curves: Dict[str, Dict[str, List[Dict]]], path: str, title: str = "") -> str:
    """``curves``: panel title -> {line label -> epoch_history(...)}; one panel per entry. Writes ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(k, v) for k, v in curves.items() if any(v.values())]
    n = max(1, len(panels))
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.4), squeeze=False)
    for ax, (panel, lines) in zip(axes[0], panels):
        for label, hist in lines.items():
            if hist:
                ax.plot([h["epoch"] for h in hist], [h["loss"] for h in hist], marker="o", ms=3, label=label)
        ax.set_title(panel, fontsize=10)
        ax.set_xlabel("epoch")
        ax.set_ylabel("train loss (epoch mean)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)
    return path
