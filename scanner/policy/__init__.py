"""Policy: load and validate, waivers and baselines, and the pure decision.

Example::

    from datetime import date
    from scanner.policy import decide, load_policy, load_waivers

    policy = load_policy()                      # the bundled default
    report = decide(report, policy, today=date.today(), waivers=load_waivers(path))
"""

from scanner.policy.evaluate import decide, evaluate
from scanner.policy.model import (
    Policy,
    bundled_policy_path,
    find_project_config,
    is_bundled_name,
    load_policy,
    parse_policy,
    resolve_policy,
)
from scanner.policy.waivers import (
    Waiver,
    apply_baseline,
    apply_waivers,
    load_baseline,
    load_waivers,
)

__all__ = [
    "Policy",
    "Waiver",
    "apply_baseline",
    "apply_waivers",
    "bundled_policy_path",
    "decide",
    "evaluate",
    "find_project_config",
    "is_bundled_name",
    "load_baseline",
    "load_policy",
    "load_waivers",
    "parse_policy",
    "resolve_policy",
]
