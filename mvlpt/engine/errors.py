"""Re-export of :mod:`mvlpt.errors` (the error classes live at the bottom of the package)."""
from mvlpt.errors import CheckpointError, ConfigError, MvlptError, NonFiniteLossError  # noqa: F401

__all__ = ["MvlptError", "ConfigError", "CheckpointError", "NonFiniteLossError"]
