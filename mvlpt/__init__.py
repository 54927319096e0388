"""mvlpt: prompt tuning of frozen CLIP models and the MVLPT multitask recipe."""
__version__ = "0.1.0"
