"""The ZeroshotCLIP trainer uses the dataset's template (CoOp's CUSTOM_TEMPLATES) unless told otherwise."""
import types

from mvlpt.config import get_cfg_default
from mvlpt.data import DATASET_REGISTRY  # noqa: F401  (fills the registry)
from mvlpt.engine.registry import TRAINER_REGISTRY


def _spec(templates, dataset_template, n_tasks=1):
    cls = TRAINER_REGISTRY.get("ZeroshotCLIP")
    t = cls.__new__(cls)  # no __init__: only the spec logic is under test
    t.cfg = get_cfg_default()
    t.cfg.TRAINER.ZSCLIP.TEMPLATES = templates
    t.tasks = [object()] * n_tasks
    t.dm = types.SimpleNamespace(dataset=types.SimpleNamespace(template=dataset_template))
    return t.learner_spec()


def test_dataset_template_by_default():
    name, kwargs = _spec([], "a photo of a {}, a type of pet.")
    assert name == "ZeroshotCLIP" and kwargs["templates"] == ("a photo of a {}, a type of pet.",)
    assert _spec([], None)[1]["templates"] == ("a photo of a {}.",)
    assert _spec([], "{} texture.", n_tasks=2)[1]["templates"] == ("a photo of a {}.",)  # merged tasks: generic


def test_explicit_templates_win():
    assert _spec(["itap of a {}.", "a bad photo of the {}."], "{} texture.")[1]["templates"] == \
        ("itap of a {}.", "a bad photo of the {}.")


def test_coop_datasets_carry_coop_templates():
    from mvlpt.engine.registry import DATASET_REGISTRY as R

    assert R.get("OxfordPets").template == "a photo of a {}, a type of pet."
    assert R.get("EuroSAT").template == "a centered satellite photo of {}."
