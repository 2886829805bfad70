"""Checks bandit lacks: the whole environment logged, a server bound to the empty host."""

from __future__ import annotations

import pytest

from scanner.analyzers._code_checks import check_source


@pytest.mark.parametrize(
    "line",
    [
        "logger.info('## ENVIRONMENT VARIABLES\\r{}'.format(dict(**os.environ)))",
        "logging.debug(os.environ)",
        "print(f'env: {os.environ}')",
        "log.warning('env ' + str(os.environ))",
        "logger.info(json.dumps(dict(os.environ)))",
        "logger.info('%s', os.environ.copy())",
    ],
)
def test_logging_the_whole_environment_is_found(line: str) -> None:
    (issue,) = check_source(f"import os, json, logging\n{line}\n".encode())
    assert (issue.rule, issue.line, issue.severity) == ("log-environment", 2, "MEDIUM")


@pytest.mark.parametrize(
    "line",
    [
        "logger.info(os.environ['AWS_REGION'])",
        "logger.info(os.environ.get('LOG_LEVEL'))",
        "print('PATH is', os.environ.get('PATH'))",
        "env = dict(os.environ)",
    ],
)
def test_one_variable_is_not_the_environment(line: str) -> None:
    assert check_source(f"import os\n{line}\n".encode()) == []


@pytest.mark.parametrize(
    ("line", "found"),
    [
        ('server = HTTPServer(("", 80), Handler)', True),
        ('s.bind(("", 8080))', True),
        ('app.run(host="", port=80)', False),  # not a server call this check knows
        ('server = HTTPServer(("127.0.0.1", 80), Handler)', False),
        ('server = HTTPServer(("0.0.0.0", 80), Handler)', False),  # bandit's own B104
    ],
)
def test_binding_to_the_empty_host(line: str, found: bool) -> None:
    issues = check_source(f"{line}\n".encode())
    assert [i.rule for i in issues] == (["B104"] if found else [])


def test_unparsable_source_yields_nothing() -> None:
    assert check_source(b"def (:\n") == []
