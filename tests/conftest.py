"""Shared fixtures: the stand-in CLIP weights (generated once per session, outside the repo)."""
import importlib.util
import os

import pytest
import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("MVLPT_SHARED", os.path.join(os.path.dirname(REPO), "shared"))
PARITY_REF = os.environ.get("MVLPT_PARITY_REF", os.path.join(SHARED, "parity", "ref"))
PARITY_REF_MORE = os.environ.get("MVLPT_PARITY_REF_MORE", os.path.join(SHARED, "parity", "ref_more"))
CACHE = os.environ.get("MVLPT_TEST_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "mvlpt-tests"))

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


def _weights_module():
    """`clip_weights.py` from the parity folder (the generator of the stand-in weights)."""
    path = os.path.join(os.path.dirname(PARITY_REF), "clip_weights.py")
    if not os.path.isfile(path):
        pytest.skip(f"no stand-in weight generator at {path}")
    spec = importlib.util.spec_from_file_location("clip_weights", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="session")
def standin_weights():
    """Path factory: backbone ('ViT-B/16') -> path of the OpenAI-format stand-in weights file.

    Written once into the test cache (never into the repo) and checked against its digest."""
    made = {}

    def get(backbone="ViT-B/16", digest=None):
        if backbone in made:
            return made[backbone]
        mod = _weights_module()
        os.makedirs(CACHE, exist_ok=True)
        path = os.path.join(CACHE, backbone.replace("/", "-") + ".pt")
        sd = None
        if os.path.isfile(path):
            try:
                sd = torch.load(path, weights_only=True)
            except Exception:  # noqa: BLE001 - a broken cache file is regenerated
                sd = None
        if sd is None or (digest and mod.digest(sd) != digest):
            sd = mod.state_dict(backbone)
            tmp = path + f".{os.getpid()}.tmp"
            torch.save(sd, tmp)
            os.replace(tmp, path)
        if digest:
            assert mod.digest(sd) == digest, "stand-in weights digest differs from the reference's"
        made[backbone] = path
        return path

    return get


@pytest.fixture(scope="session")
def clip_cache(standin_weights):
    """Loaded FrozenCLIPs, shared across tests (they are frozen, so sharing is safe)."""
    from mvlpt.clip import load_clip

    cache = {}

    def get(backbone="ViT-B/16", digest=None):
        if backbone not in cache:
            cache[backbone] = load_clip(backbone, standin_weights(backbone, digest))
        return cache[backbone]

    return get


def pytest_terminal_summary(terminalreporter):
    """Print the parity errors per configuration at the end of every run (CI logs show them):
    one table for ``ref/`` (test_parity) and one for ``ref_more/`` (test_parity_more)."""
    import sys

    for module, title in (("test_parity", "parity with the official implementations"),
                          ("test_parity_more", "parity with the official implementations (ref_more)")):
        report = getattr(sys.modules.get(module), "REPORT", None)
        if not report:
            continue
        terminalreporter.section(title)
        terminalreporter.write_line(f"{'configuration':<14} {'max|logits err|':>16} {'|loss err|':>11} {'grad err/tol':>13}")
        for name, r in sorted(report.items()):
            terminalreporter.write_line(f"{name:<14} {r.get('logits', float('nan')):>16.2e} "
                                        f"{r.get('loss', float('nan')):>11.2e} {r.get('grad_ratio', float('nan')):>13.3f}")
