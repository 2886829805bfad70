"""The bundled policies' sections are accepted by the analyzers that read them.

Policy keys are a contract between this package and the analyzers: a key the policy schema
accepts but an analyzer refuses (or the other way round) would break every scan.
"""

from __future__ import annotations

import pytest

from scanner.config import ArchiveLimits
from scanner.policy import bundled_policy_path, load_policy
from tests.helpers.report_sample import policy_from


@pytest.mark.parametrize("name", ["default", "strict"])
def test_bundled_sections_are_accepted_by_their_analyzers(name: str) -> None:
    opts = load_policy(bundled_policy_path(name)).analyzer_options()
    limits = ArchiveLimits.from_mapping(opts["archive"])
    assert limits.max_member_bytes == opts["archive"]["max_member_mb"] * 1024**2
    sandbox = pytest.importorskip("scanner.sandbox")
    budgets = sandbox.Budgets.from_options(opts["sandbox"])
    assert budgets.max_memory_mb == opts["sandbox"]["max_memory_mb"]
    licenses = pytest.importorskip("scanner.analyzers.licenses")
    lp = licenses.LicensePolicy.from_options(opts["licenses"])
    assert lp.unknown == opts["licenses"]["unknown"]
    globals_mod = pytest.importorskip("scanner.analyzers.ml._globals")
    globals_mod.GlobalPolicy.from_options(opts["models"])


def test_every_sandbox_knob_is_typed_and_accepted() -> None:
    policy = policy_from(
        "severity_threshold: high\nresources:\n  sandbox: docker\n  frames: 10\n  seconds: 5\n"
        "  fps: 15\n  warmup: false\n  grace_seconds: 2\n  emulated_slowdown: 8\n"
        "  memory_limit_mb: 2048\n  pids_limit: 128\n  cpu_limit_percent: 100\n"
        "  when_unavailable: incomplete\n"
    )
    assert policy.warnings == ()
    sandbox = pytest.importorskip("scanner.sandbox")
    budgets = sandbox.Budgets.from_options(policy.analyzer_options()["sandbox"])
    assert budgets.when_unavailable == "incomplete"


def test_model_limits_are_typed() -> None:
    policy = policy_from(
        "severity_threshold: high\nmodels:\n  max_pickle_ops: 1000\n  onnx_max_tensor_mb: 64\n"
        "  allow_globals: [numpy.core.multiarray._reconstruct]\n"
    )
    assert policy.warnings == ()
    assert policy.analyzer_options()["models"]["onnx_max_tensor_mb"] == 64
    with pytest.raises(Exception, match=r"models\.max_pickle_ops"):
        policy_from("severity_threshold: high\nmodels:\n  max_pickle_ops: lots\n")
