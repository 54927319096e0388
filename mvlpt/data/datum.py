"""Core containers: :class:`Datum`, :class:`TaskInfo` and :class:`DatasetBase`."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from .io import ConfigError

__all__ = ["Datum", "TaskInfo", "DatasetBase", "METRICS"]

#: Metric names understood by :func:`mvlpt.data.metrics.compute_metric`.
METRICS = ("accuracy", "mean_per_class", "11point_mAP", "macro_f1")

_METRIC_ALIASES = {
    "mean-per-class": "mean_per_class",
    "mean_per_class_accuracy": "mean_per_class",
    "balanced_accuracy": "mean_per_class",
    "11point_map": "11point_mAP",
    "map_11point": "11point_mAP",
    "acc": "accuracy",
    "f1": "macro_f1",
}


def normalize_metric(name: str) -> str:
    """Map the ELEVATER/toolkit spellings (``mean-per-class``) to ours (``mean_per_class``)."""
    name = _METRIC_ALIASES.get(str(name), _METRIC_ALIASES.get(str(name).lower(), name))
    if name not in METRICS:
        raise ConfigError(f"unknown metric {name!r}; use one of {', '.join(METRICS)}")
    return name


class Datum:
    """One labelled image.

    Args:
        impath: absolute image path. A path of the form ``/x/train.zip@dir/img.jpg`` addresses a
            member of a zip archive (ELEVATER layout).
        label: integer class id (in the label space of the dataset that owns the datum). ``-1``
            marks a negative image of a multilabel task (no positive class).
        classname: the class name as stored on disk (underscores kept).
        domain: domain id (Dassl compatibility, 0 by default).
        task: task id inside a merged multitask dataset (0 for single-task datasets).
        labels: for multilabel tasks (VOC-2007) the tuple of all positive class ids.

    Unlike Dassl's Datum the constructor does not stat the file: building a dataset of a
    million images costs no I/O. A missing file raises when it is read, naming the path.

    >>> d = Datum("/data/x.jpg", 3, "cat")
    >>> d.label, d.classname, d.task
    (3, 'cat', 0)
    """

    __slots__ = ("impath", "label", "classname", "domain", "task", "labels")

    def __init__(self, impath: str, label: int, classname: str, domain: int = 0, task: int = 0,
                 labels: Optional[Sequence[int]] = None):
        self.impath = str(impath)
        self.label = int(label)
        self.classname = str(classname)
        self.domain = int(domain)
        self.task = int(task)
        self.labels = tuple(int(x) for x in labels) if labels is not None else None

    def replace(self, **kw) -> "Datum":
        """Return a copy with some fields changed."""
        d = {k: getattr(self, k) for k in self.__slots__}
        d.update(kw)
        return Datum(**d)

    def __eq__(self, other):
        return isinstance(other, Datum) and all(getattr(self, k) == getattr(other, k) for k in self.__slots__)

    def __hash__(self):
        return hash((self.impath, self.label, self.task))

    def __repr__(self):
        extra = f", labels={self.labels}" if self.labels is not None else ""
        return (f"Datum(impath={self.impath!r}, label={self.label}, classname={self.classname!r}, "
                f"domain={self.domain}, task={self.task}{extra})")


@dataclass
class TaskInfo:
    """One task's slice of a (possibly merged) label space.

    Attributes:
        name: task name (registry name, e.g. ``"OxfordPets"`` or ``"cifar-10"``).
        offset: index of the task's first class in the merged label space.
        num_classes: number of classes of the task.
        metric: evaluation metric (``accuracy``, ``mean_per_class``, ``11point_mAP``, ``macro_f1``).
        multilabel: True for multilabel tasks (VOC-2007).
        classnames: the task's class names (local label order).
    """

    name: str
    offset: int
    num_classes: int
    metric: str = "accuracy"
    multilabel: bool = False
    classnames: List[str] = field(default_factory=list)

    @property
    def end(self) -> int:
        return self.offset + self.num_classes

    def slice(self) -> slice:
        return slice(self.offset, self.offset + self.num_classes)


class DatasetBase:
    """A dataset = three lists of :class:`Datum` plus its label space.

    Args:
        train_x: labelled training items.
        val: validation items (``None`` when the dataset has no validation split).
        test: test items.
        classnames: class names in label order. When omitted they are read from ``train_x``
            (label -> classname pairs, ``num_classes = max label + 1``, as Dassl does).
        name: dataset / task name.
        metric: metric of the (single) task.

    Attributes:
        tasks: list of :class:`TaskInfo` (one entry for a single dataset, one per task when merged).
        lab2cname: ``{label: classname}``.
        multilabel: True when any task is multilabel.
        protocol: ``"coop"`` (augmented training) or ``"elevater"`` (resize only).
        hflip_safe: False when a horizontal flip changes the label (e.g. the arrows demo).
        image_dir: root the stored relative paths are relative to (used for portable caches).
        template: zero-shot prompt template (``"a photo of a {}."`` by default).

    >>> ds = DatasetBase([Datum("a.jpg", 0, "cat"), Datum("b.jpg", 1, "dog")], name="toy")
    >>> ds.num_classes, ds.classnames, ds.tasks[0].offset
    (2, ['cat', 'dog'], 0)
    """

    protocol = "coop"
    hflip_safe = True
    template = "a photo of a {}."

    def __init__(self, train_x=None, val=None, test=None, *, classnames=None, name: str = "",
                 metric: str = "accuracy", multilabel: bool = False, tasks: Optional[List[TaskInfo]] = None):
        self._train_x = list(train_x) if train_x is not None else []
        self._val = list(val) if val is not None else None
        self._test = list(test) if test is not None else []
        self.name = name or type(self).__name__
        if classnames is None:
            classnames = self.classnames_from(self._train_x or self._test)
        self._classnames = [str(c) for c in classnames]
        self.multilabel = bool(multilabel) or bool(tasks and any(t.multilabel for t in tasks))
        if tasks is None:
            tasks = [TaskInfo(self.name, 0, len(self._classnames), normalize_metric(metric),
                              multilabel=bool(multilabel), classnames=list(self._classnames))]
        self.tasks = list(tasks)
        if not hasattr(self, "image_dir"):
            self.image_dir = ""

    # --- Dassl-compatible accessors -------------------------------------------------------
    @property
    def train_x(self) -> List[Datum]:
        return self._train_x

    @property
    def train_u(self):
        return None

    @property
    def val(self) -> Optional[List[Datum]]:
        return self._val

    @property
    def test(self) -> List[Datum]:
        return self._test

    @property
    def classnames(self) -> List[str]:
        return self._classnames

    @property
    def num_classes(self) -> int:
        return len(self._classnames)

    @property
    def lab2cname(self) -> Dict[int, str]:
        return {i: c for i, c in enumerate(self._classnames)}

    @property
    def metric(self) -> str:
        return self.tasks[0].metric if len(self.tasks) == 1 else "mean"

    @property
    def is_multitask(self) -> bool:
        return len(self.tasks) > 1

    @staticmethod
    def classnames_from(items: Sequence[Datum]) -> List[str]:
        """Class names sorted by label, from the (label, classname) pairs of ``items``."""
        pairs = {}
        for d in items:
            if d.label >= 0:
                pairs.setdefault(d.label, d.classname)
        if not pairs:
            return []
        n = max(pairs) + 1
        return [pairs.get(i, f"class_{i}") for i in range(n)]

    @staticmethod
    def get_num_classes(items: Sequence[Datum]) -> int:
        return max((d.label for d in items), default=-1) + 1

    @staticmethod
    def get_lab2cname(items: Sequence[Datum]) -> Tuple[Dict[int, str], List[str]]:
        names = DatasetBase.classnames_from(items)
        return {i: c for i, c in enumerate(names)}, names

    def __repr__(self):
        nval = len(self._val) if self._val is not None else None
        return (f"{type(self).__name__}(name={self.name!r}, classes={self.num_classes}, train={len(self._train_x)}, "
                f"val={nval}, test={len(self._test)}, tasks={[t.name for t in self.tasks]})")
