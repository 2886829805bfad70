"""Fixtures shared by the integration tests (defined in tests/helpers, registered here)."""

from tests.helpers.hook_repo import git_env, repo

__all__ = ["git_env", "repo"]
