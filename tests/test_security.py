"""No code runs from a checkpoint: a malicious file is refused by every entry point, official files
still load to the same tensors."""
import glob
import io
import os
import pickle
import warnings

import pytest
import torch

from conftest import SHARED
from test_engine_support import base_args, install_standins, make_image_folder

install_standins()

from mvlpt.cli import main  # noqa: E402
from mvlpt.safeload import Inert, UnsafeCheckpointError, inert_state, safe_torch_load  # noqa: E402


class _System:
    """Unpickling calls os.system (pickled as posix.system) to create the marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _Exec:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').close()",))


class _NestedLoad:
    """A legacy storage rebuild that would torch.load a nested pickle with full unpickling."""

    def __init__(self, marker):
        buf = io.BytesIO()
        torch.save(_System(marker), buf)
        self.payload = buf.getvalue()

    def __reduce__(self):
        from torch.storage import _load_from_bytes

        return (_load_from_bytes, (self.payload,))


PAYLOADS = {"os.system": _System, "exec": _Exec, "nested torch.load": _NestedLoad}


def _evil_checkpoint(path, marker, payload=_System):
    """A Dassl-layout checkpoint whose valid prompt tensor sits next to a malicious 'scheduler':
    weights_only fails on it, which is exactly when the old loader fell back to full unpickling."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.save({"state_dict": {"ctx": torch.zeros(4, 512)}, "epoch": 1, "optimizer": None,
                "scheduler": payload(marker), "val_result": None}, path)
    with open(os.path.join(os.path.dirname(path), "checkpoint"), "w") as f:
        f.write(os.path.basename(path) + "\n")
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_image_folder(str(tmp_path_factory.mktemp("data") / "imgs"), per_class=2)


@pytest.fixture
def evil(tmp_path):
    marker = tmp_path / "PWNED"
    run = tmp_path / "evil_run"
    _evil_checkpoint(str(run / "prompt_learner" / "model.pth.tar-1"), marker)
    return run, marker


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_loader_refuses_payloads(tmp_path, name):
    marker = tmp_path / "PWNED"
    path = _evil_checkpoint(str(tmp_path / "x" / "model.pth.tar-1"), marker, PAYLOADS[name])
    with open(path, "rb") as f, pytest.raises(UnsafeCheckpointError, match="refusing"):
        safe_torch_load(f)
    assert not marker.exists()
    from mvlpt.prompts.official import OfficialCheckpointError, read_checkpoint

    with pytest.raises(OfficialCheckpointError) as e:
        read_checkpoint(path)
    assert not marker.exists()
    msg = str(e.value)
    assert "\n" not in msg and "refusing to load" in msg and path in msg
    if name == "os.system":
        assert "posix.system" in msg or "nt.system" in msg


def _refused(capsys, rc, marker):
    err = capsys.readouterr().err.strip()
    assert not marker.exists(), "the malicious checkpoint ran code"
    assert rc == 2, err
    lines = err.splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert "refusing to load" in lines[0] and "system" in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("entry", ["model-dir init", "eval-only", "resume", "auto-resume"])
def test_cli_entry_points_refuse(entry, data, evil, tmp_path, capsys):
    run, marker = evil
    out = str(tmp_path / "out")
    if entry == "model-dir init":  # MVLPT hand-off: a downloaded source prompt initialises the target
        args = ["--model-dir", str(run)] + base_args(data, out, epochs=1)
    elif entry == "eval-only":
        args = ["--eval-only", "--model-dir", str(run)] + base_args(data, out, epochs=1)
    elif entry == "resume":
        args = ["--resume", str(run)] + base_args(data, out, epochs=1)
    else:  # rerunning a command whose output folder holds the file resumes from it
        args = base_args(data, str(run), epochs=2)
    line = _refused(capsys, main(args), marker)
    print(entry, "->", line)


def test_averaging_and_notebook_api_refuse(evil, tmp_path):
    run, marker = evil
    from mvlpt.engine.errors import CheckpointError
    from mvlpt.multitask.averaging import load_prompt_checkpoint, select_source

    with pytest.raises(CheckpointError, match="refusing to load"):
        select_source([str(run)], str(tmp_path / "avg"))
    with pytest.raises(CheckpointError, match="refusing to load"):
        load_prompt_checkpoint(str(run))
    assert not marker.exists()


def test_clip_weights_loader_refuses(tmp_path):
    from mvlpt.clip import load_clip

    marker = tmp_path / "PWNED"
    path = tmp_path / "evil_clip.pt"
    torch.save({"visual.conv1.weight": torch.zeros(1), "x": _System(marker)}, path)
    with pytest.raises(Exception) as e:
        load_clip("ViT-B/32", str(path))
    assert not marker.exists()
    assert "\n" not in str(e.value).strip()


def test_inert_placeholders_record_state():
    """Classes outside the allow-list (e.g. Dassl's pickled scheduler) become inert records."""

    buf = io.BytesIO()
    pickle.dump({"sched": _Record(3)}, buf, protocol=2)
    buf.seek(0)
    from mvlpt.safeload import RestrictedUnpickler

    obj = RestrictedUnpickler(buf).load()["sched"]
    assert isinstance(obj, Inert) and obj.mvlpt_global.endswith("_Record")
    assert inert_state(obj) == {"last_epoch": 3, "base_lrs": [0.1]}


class _Record:
    def __init__(self, n):
        self.last_epoch = n
        self.base_lrs = [0.1]


def _walk(a, b, path=""):
    if isinstance(b, torch.Tensor):
        assert isinstance(a, torch.Tensor) and torch.equal(a, b) and a.dtype == b.dtype, path
        return 1
    if isinstance(b, dict):
        assert set(a) == set(b), path
        return sum(_walk(a[k], b[k], f"{path}/{k}") for k in b)
    if isinstance(b, (list, tuple)):
        return sum(_walk(x, y, path) for x, y in zip(a, b))
    return 0


OFFICIAL = sorted(glob.glob(os.path.join(os.environ.get("MVLPT_PARITY_REF", os.path.join(SHARED, "parity", "ref")),
                                         "*", "*", "model.pth.tar-*"))
                  + glob.glob(os.path.join(os.environ.get("MVLPT_PARITY_REF_MORE",
                                                          os.path.join(SHARED, "parity", "ref_more")),
                                           "*", "*", "model.pth.tar-*")))


@pytest.mark.skipif(not OFFICIAL, reason="no official reference checkpoints")
@pytest.mark.parametrize("path", OFFICIAL, ids=lambda p: "/".join(p.split(os.sep)[-3:-1]))
def test_official_checkpoints_load_to_same_tensors(path):
    from mvlpt.prompts.official import read_checkpoint

    ours = read_checkpoint(path)
    with warnings.catch_warnings():  # the trusted reference file, read the unsafe way for comparison only
        warnings.simplefilter("ignore")
        full = torch.load(path, map_location="cpu", weights_only=False)
    assert _walk(ours, full) >= 1
    assert ours["epoch"] == full["epoch"]


def test_torchscript_archive_is_read_without_running_it(tmp_path):
    """OpenAI's .pt releases are TorchScript archives: read as data; a malicious data.pkl is refused."""
    import zipfile

    from mvlpt.clip import load_clip
    from mvlpt.safeload import read_torchscript_tensors

    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(3, 2)
            self.register_buffer("b", torch.arange(4.0))
            self.mask = torch.ones(2)  # a plain tensor attribute: not in state_dict, must not appear

        def forward(self, x):
            return self.lin(x) + self.mask

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.save(torch.jit.script(M()), str(tmp_path / "m.pt"))
        ref = torch.jit.load(str(tmp_path / "m.pt")).state_dict()
    got = read_torchscript_tensors(str(tmp_path / "m.pt"))
    assert list(got) == list(ref) and all(torch.equal(got[k], ref[k]) for k in ref)

    marker = tmp_path / "PWNED"
    evil = tmp_path / "evil.pt"
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("evil/data.pkl", pickle.dumps(_System(marker), protocol=2))
        z.writestr("evil/code/__torch__.py", "class M(Module):\n  __parameters__ = []\n  __buffers__ = []\n")
        z.writestr("evil/constants.pkl", pickle.dumps((), protocol=2))
    with pytest.raises(Exception) as e:
        load_clip("ViT-B/32", str(evil))
    assert not marker.exists()
    assert "posix.system" in str(e.value) and "\n" not in str(e.value)
