"""Loading and validating policies: errors name file, line and key; hostile YAML fails fast."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.errors import PolicyError
from scanner.models import Category, Severity
from scanner.policy import (
    bundled_policy_path,
    find_project_config,
    load_policy,
    parse_policy,
    resolve_policy,
)


def _parse(text: str) -> object:
    return parse_policy(text.encode(), "p.yaml")


@pytest.mark.parametrize("name", ["default", "strict"])
def test_bundled_policies_load_and_carry_every_analyzer_section(name: str) -> None:
    policy = load_policy(bundled_policy_path(name))
    assert policy.name == name
    raw = bundled_policy_path(name).read_bytes()
    assert policy.sha256 == hashlib.sha256(raw).hexdigest()
    opts = policy.analyzer_options()
    assert set(opts) == {"licenses", "sandbox", "archive", "vulns", "models"}
    assert set(opts["licenses"]) >= {"deny", "allow", "unknown"}
    assert set(opts["sandbox"]) >= {
        "max_memory_mb",
        "max_cpu_percent",
        "max_disk_write_mb",
        "max_processes",
        "allow_network",
    }
    assert set(opts["archive"]) >= {
        "max_member_mb",
        "max_total_mb",
        "max_members",
        "max_ratio",
        "max_depth",
    }
    assert "max_db_age_days" in opts["vulns"]
    assert policy.warnings == ()


def test_repo_symlinks_point_at_bundled_policies() -> None:
    repo = Path(__file__).resolve().parents[3]
    for name in ("default", "strict"):
        assert (repo / "policies" / f"{name}.yaml").read_bytes() == bundled_policy_path(
            name
        ).read_bytes()


def test_strict_is_stricter_than_default() -> None:
    default, strict = (
        load_policy(bundled_policy_path("default")),
        load_policy(bundled_policy_path("strict")),
    )
    for cat in Category:
        assert strict.threshold(cat) <= default.threshold(cat), cat
    assert strict.analyzer_options()["licenses"]["unknown"] == "reject"
    assert strict.analyzer_options()["licenses"]["allow"]


def test_thresholds_default_and_per_category() -> None:
    p = _parse("severity_threshold: HIGH\ncategories:\n  code: medium\n")
    assert p.threshold(Category.CODE) is Severity.MEDIUM  # type: ignore[attr-defined]
    assert p.threshold(Category.SECRET) is Severity.HIGH  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", r"p\.yaml: the policy has no rules"),
        ("{}\n", r"p\.yaml: the policy has no rules"),
        ("# only a comment\n", r"no rules"),
        ("name: x\n", r"p\.yaml:1: severity_threshold: required key is missing"),
        ("- a\n- b\n", r"p\.yaml:1: a policy is a mapping"),
        ("severity_threshold: hgh\n", r"p\.yaml:1: severity_threshold: Input should be"),
        (
            "severity_threshold: high\ncategories:\n  code: low\n  cod: low\n",
            r"p\.yaml:4: categories\.cod",
        ),
        ("severity_threshold: high\nlicences: {}\n", r"p\.yaml:2: licences: unknown key"),
        (
            "severity_threshold: high\nlicenses:\n  unknown: maybe\n",
            r"p\.yaml:3: licenses\.unknown",
        ),
        (
            "severity_threshold: high\nlicenses:\n  deny: [MIT]\n  allow: [MIT]\n",
            r"both allowed and denied: MIT",
        ),
        (
            "severity_threshold: high\narchive:\n  max_ratio: 0.5\n",
            r"p\.yaml:3: archive\.max_ratio",
        ),
        (
            "severity_threshold: high\nresources:\n  max_memory_mb: -1\n",
            r"p\.yaml:3: resources\.max_memory_mb",
        ),
        (
            "severity_threshold: high\nseverity_threshold: low\n",
            r"p\.yaml:2: severity_threshold: duplicate key \(first defined on line 1\)",
        ),
        ("severity_threshold: high\n  bad: [\n", r"p\.yaml:2: not valid YAML"),
        ("!!python/object:os.system {}\n", r"p\.yaml:1: YAML tag .* is not allowed"),
        ("severity_threshold: !!python/name:os.system high\n", r"p\.yaml:1: not valid YAML"),
        ("base: &b {severity_threshold: high}\n<<: *b\n", r"merge keys"),
        ("severity_threshold: high\nwaivers: 3\n", r"p\.yaml:2: waivers: a file name or a list"),
        (
            "severity_threshold: high\nrequired_analyzers: []\n",
            r"p\.yaml:2: required_analyzers: an empty list",
        ),
        (
            "severity_threshold: high\nwaivers:\n  - rule: secrets.x\n    owner: me\n    "
            "expires: 2026-01-01\n",
            r"p\.yaml:3: waivers\[0\]\.reason: required key is missing",
        ),
        (
            "severity_threshold: high\nwaivers:\n  - reason: r\n    owner: o\n    expires: "
            "2026-01-01\n",
            r"p\.yaml:3: waivers\[0\]: a waiver needs a scope",
        ),
        (
            "severity_threshold: high\nwaivers:\n  - rule: '*'\n    reason: r\n    owner: o\n "
            "   expires: 2026-01-01\n",
            r"would waive every rule",
        ),
        (
            "severity_threshold: high\nwaivers:\n  - rule: a.b\n    reason: r\n    owner: o\n "
            "   expires: someday\n",
            r"p\.yaml:6: waivers\[0\]\.expires",
        ),
    ],
    ids=lambda v: v if len(str(v)) < 30 else None,
)
def test_invalid_policies_name_file_line_and_key(text: str, match: str) -> None:
    with pytest.raises(PolicyError, match=match):
        _parse(text)


def test_every_error_is_listed_one_per_line() -> None:
    with pytest.raises(PolicyError) as info:
        _parse("severity_threshold: high\nlicenses:\n  unknown: maybe\narchive:\n  max_depth: -1\n")
    lines = info.value.message.splitlines()
    assert lines == [
        "p.yaml:3: licenses.unknown: Input should be 'warn' or 'reject'",
        "p.yaml:5: archive.max_depth: Input should be greater than or equal to 0",
    ]


def test_billion_laughs_fails_fast() -> None:
    levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i, name in enumerate("bcdefghij"):
        prev = "abcdefghij"[i]
        levels.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]")
    text = "\n".join(levels) + "\nseverity_threshold: high\n"
    start = time.monotonic()
    with pytest.raises(PolicyError, match=r"alias"):
        _parse(text)
    assert time.monotonic() - start < 2


def test_many_aliases_are_refused() -> None:
    text = "x: &x 1\nl: [" + ", ".join(["*x"] * 100) + "]\nseverity_threshold: high\n"
    with pytest.raises(PolicyError, match=r"more than 64 YAML aliases"):
        _parse(text)


def test_oversized_file_is_refused() -> None:
    with pytest.raises(PolicyError, match=r"larger than"):
        parse_policy(b"#" * (2 * 1024 * 1024), "big.yaml")


def test_unknown_keys_in_analyzer_sections_are_passed_on_with_a_warning() -> None:
    p = _parse("severity_threshold: high\nresources:\n  max_wall_seconds: 30\n")
    assert p.analyzer_options()["sandbox"]["max_wall_seconds"] == 30  # type: ignore[attr-defined]
    assert p.warnings == (  # type: ignore[attr-defined]
        "resources.max_wall_seconds: not a key panorama-gate knows; passed to the analyzer as is",
    )


def test_unreadable_policy_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"missing\.yaml: cannot read policy file"):
        load_policy(tmp_path / "missing.yaml")


def test_waivers_file_referenced_from_policy_is_relative_to_it(tmp_path: Path) -> None:
    (tmp_path / "w.yaml").write_text(
        "waivers:\n  - id: A\n    rule: secrets.*\n    reason: r\n    owner: o\n    expires: "
        "2030-01-01\n"
    )
    (tmp_path / "p.yaml").write_text("severity_threshold: high\nwaivers: w.yaml\n")
    p = load_policy(tmp_path / "p.yaml")
    assert [w.id for w in p.waivers] == ["A"]
    assert p.waivers[0].source == f"{(tmp_path / 'w.yaml').resolve()}:2"


def test_inline_waivers_get_ids_from_their_line() -> None:
    p = _parse(
        "severity_threshold: high\nwaivers:\n  - rule: a.b\n    reason: r\n    owner: o\n    "
        "expires: 2030-01-01\n"
    )
    assert [w.id for w in p.waivers] == ["p.yaml:3"]  # type: ignore[attr-defined]


def test_pyproject_inline_policy(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.panorama-gate]\nname = "team"\nseverity_threshold = '
        '"medium"\n'
        '[tool.panorama-gate.licenses]\nunknown = "reject"\n'
    )
    cfg = find_project_config(tmp_path)
    assert cfg is not None
    p = resolve_policy(None, tmp_path)
    assert p.name == "team"
    assert p.severity_threshold is Severity.MEDIUM
    assert p.analyzer_options()["licenses"]["unknown"] == "reject"
    assert p.source.endswith("pyproject.toml [tool.panorama-gate]")


def test_pyproject_points_at_policy_and_waivers_files(tmp_path: Path) -> None:
    (tmp_path / "gate.yaml").write_text("name: g\nseverity_threshold: low\n")
    (tmp_path / "w.yaml").write_text(
        "- rule: a.b\n  reason: r\n  owner: o\n  expires: 2030-01-01\n"
    )
    (tmp_path / "pyproject.toml").write_text(
        '[tool.panorama-gate]\npolicy = "gate.yaml"\nwaivers = "w.yaml"\n'
    )
    p = resolve_policy(None, tmp_path)
    assert (p.name, p.severity_threshold, len(p.waivers)) == ("g", Severity.LOW, 1)


def test_pyproject_errors_name_file_line_and_key(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.panorama-gate]\nseverity_threshold = "hi"\n'
    )
    with pytest.raises(
        PolicyError, match=r"pyproject\.toml:5: severity_threshold: Input should be"
    ):
        resolve_policy(None, tmp_path)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.panorama-gate]\nseverity_threshold = "high"\n\n'
        '[tool.panorama-gate.licenses]\ndeny = ["GPL-3.0-only"]\nunknwn = "warn"\n\n'
        '[[tool.panorama-gate.waivers]]\nrule = "a.b"\nreason = "r"\nowner = "o"\n'
        "expires = 2030-01-01\n\n"
        '[[tool.panorama-gate.waivers]]\nrule = "a.c"\nowner = "o"\nexpires = 2030-01-01\n'
    )
    with pytest.raises(PolicyError, match=r"pyproject\.toml:6: licenses\.unknwn: unknown key"):
        resolve_policy(None, tmp_path)
    text = (tmp_path / "pyproject.toml").read_text().replace('unknwn = "warn"\n', "")
    (tmp_path / "pyproject.toml").write_text(text)
    with pytest.raises(PolicyError, match=r"pyproject\.toml:13: waivers\[1\]\.reason: required"):
        resolve_policy(None, tmp_path)


def test_explicit_policy_wins_over_pyproject_and_default_is_last(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.panorama-gate]\nseverity_threshold = "low"\n')
    explicit = resolve_policy(bundled_policy_path("strict"), tmp_path)
    assert explicit.name == "strict"
    assert resolve_policy(None, tmp_path / "nowhere").name == "default"
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert resolve_policy(None, tmp_path / "other").name == "default"


@pytest.mark.parametrize(
    "text",
    [
        "severity_threshold: high\nmodels:\n  x: " + "[" * 40 + "]" * 40 + "\n",
        "a: " + "[" * 5000 + "]" * 5000 + "\n",
        "a: " + "{x: " * 3000 + "1" + "}" * 3000 + "\n",
        "- " * 3000 + "x\n",
    ],
    ids=["40", "5000-flow-seq", "3000-flow-map", "3000-block-seq"],
)
def test_deep_nesting_is_refused_before_python_recursion_limit(text: str) -> None:
    with pytest.raises(PolicyError, match=r"nested deeper than 32 levels"):
        _parse(text)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=200),
        st.text(alphabet=st.sampled_from(list("ab: -[]{}&*!|>'\"\n#1.%@`,?")), max_size=120).map(
            str.encode
        ),
        st.text(max_size=80).map(lambda t: ("severity_threshold: high\n" + t).encode()),
    )
)
def test_any_input_is_a_policy_or_a_policy_error(raw: bytes) -> None:
    """Fail closed with a message, never with another exception (which would be a traceback)."""
    message = ""
    try:
        policy = parse_policy(raw, "fuzz.yaml")
    except PolicyError as exc:
        message = exc.message
    else:
        assert policy.severity_threshold in Severity
    assert not message or message.startswith("fuzz.yaml")


def test_bundled_policies_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_policy(Path("strict")).name == "strict"
    assert load_policy(Path("default")).name == "default"
    assert resolve_policy(Path("strict"), tmp_path).name == "strict"
    # A file of that name is what the user means.
    (tmp_path / "strict").write_text("name: mine\nseverity_threshold: low\n")
    assert load_policy(Path("strict")).name == "mine"
    with pytest.raises(PolicyError, match="cannot read policy file"):
        load_policy(Path("lenient"))
