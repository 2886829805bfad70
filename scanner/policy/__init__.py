"""Policy: load, validate and evaluate (``evaluate`` is a pure function)."""

from scanner.policy.evaluate import evaluate
from scanner.policy.model import Policy, load_policy

__all__ = ["Policy", "evaluate", "load_policy"]
