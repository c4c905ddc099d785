"""Graph → Graph passes and the pass manager."""
from .manager import DEFAULT_PIPELINE, PassError, run_passes

__all__ = ["DEFAULT_PIPELINE", "PassError", "run_passes"]
