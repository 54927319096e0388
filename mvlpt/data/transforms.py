"""Image transforms: the CoOp/Dassl protocol (``INPUT.TRANSFORMS``) and the ELEVATER protocol.

* CoOp (Dassl ``build_transform``): train = ``RandomResizedCrop(SIZE, scale=RRCROP_SCALE)`` +
  horizontal flip (+ other Dassl ops if listed) + CLIP normalisation; test = short-side resize to
  ``max(SIZE)`` + centre crop. Interpolation from ``INPUT.INTERPOLATION`` (bicubic).
* ELEVATER: resize to ``SIZE`` (aspect squashed), no augmentation, same for train and test;
  ``DATASET.CENTER_CROP`` turns it into short-side resize + centre crop.
"""
from __future__ import annotations

import warnings

import torch
import torchvision.transforms as T
from torchvision.transforms import InterpolationMode

from .io import ConfigError

__all__ = ["build_transform", "is_deterministic", "INTERPOLATION_MODES"]

INTERPOLATION_MODES = {
    "bilinear": InterpolationMode.BILINEAR,
    "bicubic": InterpolationMode.BICUBIC,
    "nearest": InterpolationMode.NEAREST,
}

RANDOM_OPS = {"random_resized_crop", "random_crop", "random_flip", "random_translation", "colorjitter",
              "randomgrayscale", "gaussian_blur", "randaugment", "randaugment_fixmatch", "randaugment2",
              "imagenet_policy", "cifar10_policy", "svhn_policy", "cutout", "gaussian_noise", "random_vflip"}
KNOWN_OPS = RANDOM_OPS | {"normalize", "center_crop", "instance_norm"}


class _GaussianNoise:
    def __init__(self, mean=0.0, std=0.15, p=0.5):
        self.mean, self.std, self.p = mean, std, p

    def __call__(self, x):
        if torch.rand(1).item() > self.p:
            return x
        return x + torch.randn_like(x) * self.std + self.mean


class _Cutout:
    def __init__(self, n_holes=1, length=16):
        self.n, self.length = n_holes, length

    def __call__(self, img):
        _, h, w = img.shape
        mask = torch.ones(h, w)
        for _ in range(self.n):
            y, x = torch.randint(h, (1,)).item(), torch.randint(w, (1,)).item()
            y1, y2 = max(0, y - self.length // 2), min(h, y + self.length // 2)
            x1, x2 = max(0, x - self.length // 2), min(w, x + self.length // 2)
            mask[y1:y2, x1:x2] = 0
        return img * mask


def _size(cfg):
    s = cfg.INPUT.SIZE
    size = (int(s[0]), int(s[1])) if isinstance(s, (list, tuple)) else (int(s), int(s))
    if min(size) < 1:
        raise ConfigError(f"INPUT.SIZE must be positive (height, width), got {tuple(size)}; CLIP ViT-B uses (224, 224)")
    return size


def _interp(cfg):
    name = str(cfg.INPUT.INTERPOLATION).lower()
    if name not in INTERPOLATION_MODES:
        raise ConfigError(f"INPUT.INTERPOLATION must be one of {sorted(INTERPOLATION_MODES)}, got {name!r}")
    return INTERPOLATION_MODES[name]


def _normalize(cfg):
    return T.Normalize(mean=list(cfg.INPUT.PIXEL_MEAN), std=list(cfg.INPUT.PIXEL_STD))


def build_transform(cfg, is_train=True, protocol="coop", choices=None, hflip_safe=True):
    """Build a torchvision transform.

    Args:
        cfg: config with the ``INPUT`` node (and ``DATASET.CENTER_CROP`` for ELEVATER).
        is_train: train or test transform.
        protocol: ``"coop"`` or ``"elevater"``.
        choices: override of ``INPUT.TRANSFORMS``.
        hflip_safe: when False, ``random_flip`` is dropped (a flip would change the label).
    """
    size = _size(cfg)
    interp = _interp(cfg)
    norm = _normalize(cfg)
    if protocol == "elevater":
        if cfg.DATASET.get("CENTER_CROP", False):
            return T.Compose([T.Resize(max(size), interpolation=interp), T.CenterCrop(size), T.ToTensor(), norm])
        return T.Compose([T.Resize(size, interpolation=interp), T.ToTensor(), norm])
    if protocol != "coop":
        raise ValueError(f"unknown protocol {protocol!r} (expected 'coop' or 'elevater')")

    choices = list(cfg.INPUT.TRANSFORMS if choices is None else choices)
    unknown = [c for c in choices if c not in KNOWN_OPS]
    if unknown:
        raise ConfigError(f"unknown INPUT.TRANSFORMS entries {unknown}; known: {sorted(KNOWN_OPS)}")
    do_norm = "normalize" in choices
    if cfg.INPUT.get("NO_TRANSFORM", False):
        return T.Compose([T.Resize(max(size), interpolation=interp), T.CenterCrop(size), T.ToTensor()]
                         + ([norm] if do_norm else []))

    if not is_train:
        tfm = [T.Resize(max(size), interpolation=interp), T.CenterCrop(size), T.ToTensor()]
        return T.Compose(tfm + ([norm] if do_norm else []))

    if "random_flip" in choices and not hflip_safe:
        warnings.warn("random_flip dropped: this dataset's labels are not invariant to horizontal flips")
        choices = [c for c in choices if c != "random_flip"]

    tfm = []
    if "random_resized_crop" in choices:
        tfm.append(T.RandomResizedCrop(size, scale=tuple(cfg.INPUT.RRCROP_SCALE), interpolation=interp))
    elif "random_translation" in choices:
        tfm += [T.Resize((int(round(size[0] * 1.125)), int(round(size[1] * 1.125))), interpolation=interp),
                T.RandomCrop(size)]
    elif "random_crop" in choices:
        tfm += [T.Resize(size, interpolation=interp), T.RandomCrop(size, padding=int(cfg.INPUT.CROP_PADDING))]
    elif "center_crop" in choices:
        tfm += [T.Resize(max(size), interpolation=interp), T.CenterCrop(size)]
    else:
        tfm.append(T.Resize(size, interpolation=interp))
    if "random_flip" in choices:
        tfm.append(T.RandomHorizontalFlip())
    if "random_vflip" in choices:
        tfm.append(T.RandomVerticalFlip())
    if "imagenet_policy" in choices:
        tfm.append(T.AutoAugment(T.AutoAugmentPolicy.IMAGENET))
    if "cifar10_policy" in choices:
        tfm.append(T.AutoAugment(T.AutoAugmentPolicy.CIFAR10))
    if "svhn_policy" in choices:
        tfm.append(T.AutoAugment(T.AutoAugmentPolicy.SVHN))
    if any(c.startswith("randaugment") for c in choices):
        tfm.append(T.RandAugment(num_ops=int(cfg.INPUT.RANDAUGMENT_N), magnitude=int(cfg.INPUT.RANDAUGMENT_M)))
    if "colorjitter" in choices:
        tfm.append(T.ColorJitter(brightness=cfg.INPUT.COLORJITTER_B, contrast=cfg.INPUT.COLORJITTER_C,
                                 saturation=cfg.INPUT.COLORJITTER_S, hue=cfg.INPUT.COLORJITTER_H))
    if "randomgrayscale" in choices:
        tfm.append(T.RandomGrayscale(p=cfg.INPUT.RGS_P))
    if "gaussian_blur" in choices:
        k = int(cfg.INPUT.GB_K) | 1
        tfm.append(T.RandomApply([T.GaussianBlur(k)], p=cfg.INPUT.GB_P))
    tfm.append(T.ToTensor())
    if "cutout" in choices:
        tfm.append(_Cutout(int(cfg.INPUT.CUTOUT_N), int(cfg.INPUT.CUTOUT_LEN)))
    if "gaussian_noise" in choices:
        tfm.append(_GaussianNoise(cfg.INPUT.GN_MEAN, cfg.INPUT.GN_STD))
    if do_norm:
        tfm.append(norm)
    return T.Compose(tfm)


def is_deterministic(cfg, protocol="coop", choices=None):
    """True when the train transform has no random op (image features may then be cached)."""
    if protocol == "elevater":
        return True
    if cfg.INPUT.get("NO_TRANSFORM", False):
        return True
    choices = list(cfg.INPUT.TRANSFORMS if choices is None else choices)
    return not any(c in RANDOM_OPS for c in choices)
