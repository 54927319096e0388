"""Linear-probe baseline: multinomial logistic regression on frozen CLIP image features.

Features are CLIP's (normalised) image embeddings of the train / val / test splits as the data
manager builds them for ``DATASET.NAME`` (few-shot train set when ``DATASET.NUM_SHOTS`` is set).
The L2 strength is picked on the val split from ``weight_decays`` (CLIP's linear-probe protocol
searches it too), then the classifier is trained with L-BFGS and evaluated on test. Writes the
same result files as a prompt run (``results_best.json`` = ``results_last.json``, ``run.json``, ``DONE``).
"""
import os
from typing import Sequence

import torch
import torch.nn.functional as F

from mvlpt.utils import atomic_write_json, atomic_write_text

__all__ = ["run_linear_probe"]


@torch.no_grad()
def _features(clip, loader, device):
    xs, ys = [], []
    for batch in loader:
        f = clip.encode_image(batch["img"].to(device))
        xs.append(F.normalize(f.float(), dim=-1).cpu())
        ys.append(batch["label"].long().cpu())
    return torch.cat(xs), torch.cat(ys)


def _fit(x, y, n_cls, wd, steps=100):
    torch.manual_seed(0)
    w = torch.zeros(x.shape[1], n_cls, requires_grad=True)
    b = torch.zeros(n_cls, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(x @ w * 10 + b, y) + wd * (w ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach(), b.detach()


def _acc(x, y, w, b):
    from mvlpt.data.metrics import accuracy

    return accuracy(x @ w * 10 + b, y) if len(y) else 0.0


def run_linear_probe(output_dir: str, datasets: Sequence[str], seed: int = 1, root: str = "",
                     backbone: str = "ViT-B/16", pretrained: str = "openai", shots=None, opts=(),
                     weight_decays=(1e-4, 1e-3, 1e-2, 1e-1), force: bool = False, label: str = ""):
    from mvlpt.clip import load_clip
    from mvlpt.config import get_cfg_default, merge_from_list
    from mvlpt.data import DataManager
    from mvlpt.multitask.runner import is_finished, read_result

    if not force and is_finished(output_dir):
        return {"status": "skipped", "best": read_result(output_dir, "best")}
    cfg = get_cfg_default()
    merge_from_list(cfg, ["DATASET.NAME", ",".join(datasets), "SEED", str(seed), "OUTPUT_DIR", output_dir,
                          "MODEL.BACKBONE.NAME", backbone, "MODEL.BACKBONE.PRETRAINED", str(pretrained)]
                    + (["DATASET.ROOT", root] if root else [])
                    + (["DATASET.NUM_SHOTS", str(shots)] if shots is not None else []) + [str(o) for o in opts])
    cfg.defrost()
    cfg.INPUT.TRANSFORMS = ("normalize",)  # no augmentation for feature extraction
    cfg.freeze()
    torch.manual_seed(seed)
    dm = DataManager(cfg)
    device = torch.device("cpu")
    clip = load_clip(backbone, pretrained=pretrained, device=device)
    clip.eval()
    n_cls = dm.num_classes
    xtr, ytr = _features(clip, dm.train_loader_x, device)
    xte, yte = _features(clip, dm.test_loader, device)
    val_loader = getattr(dm, "val_loader", None)
    xva, yva = _features(clip, val_loader, device) if val_loader is not None else (xtr, ytr)
    scores = {}
    for wd in weight_decays:
        w, b = _fit(xtr, ytr, n_cls, wd)
        scores[wd] = _acc(xva, yva, w, b)
    best_wd = max(weight_decays, key=lambda k: (scores[k], -k))
    w, b = _fit(xtr, ytr, n_cls, best_wd)
    acc = _acc(xte, yte, w, b)
    os.makedirs(output_dir, exist_ok=True)
    meta = {"datasets": list(datasets), "method": "LinearProbe", "seed": seed, "weight_decay": best_wd,
            "val_scores": {str(k): v for k, v in scores.items()}}
    if label:
        meta["label"] = label
    res = {"accuracy": acc}
    with open(os.path.join(output_dir, "log.txt"), "a", encoding="utf-8") as f:
        f.write(f"linear probe on {datasets}: val {scores}, weight decay {best_wd}, test accuracy {acc:.2f}\n")
    # results_best.json marks the run done (runner.is_finished): every file is written atomically
    atomic_write_json(os.path.join(output_dir, "results_last.json"), {"which": "last", **meta, **res})
    atomic_write_json(os.path.join(output_dir, "run.json"), meta)
    atomic_write_json(os.path.join(output_dir, "results_best.json"), {"which": "best", **meta, **res})
    atomic_write_text(os.path.join(output_dir, "DONE"), "ok\n")
    return {"status": "done", "best": res, "last": res}
