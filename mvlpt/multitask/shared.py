"""Speed-ups for recipes that run many short trainings in one Python process (exact), by injection.

:func:`shared_resources` is a context manager: inside it, every :func:`mvlpt.multitask.runner.run`
gives its trainer the same

* :class:`~mvlpt.engine.features.ClipProvider` (``share=True``): one frozen CLIP per
  ``(name, pretrained, device)`` - runs may share it (random ``"none"`` weights are deterministic too);
* :class:`~mvlpt.engine.features.FeatureStore` (``memo_images``): the frozen, prompt-free image features
  of an image computed once, keyed by the digest of the preprocessed image tensor (bit-identical hits).
  Methods whose image side trains (VPT, UPT, MaPLe) always run the encoder.

Nothing in the library is patched: the objects are passed to the trainers (``build_trainer(cfg,
clip_provider=..., feature_store=...)``). Used by the demo and the transferability driver; ordinary
``python -m mvlpt`` runs don't need it.
"""
import contextlib

__all__ = ["shared_resources"]


@contextlib.contextmanager
def shared_resources(max_images: int = 20000):
    from mvlpt.engine.features import ClipProvider, FeatureStore

    from .runner import using_resources

    resources = {"clip_provider": ClipProvider(share=True), "feature_store": FeatureStore(memo_images=max_images)}
    with using_resources(resources):
        yield resources
