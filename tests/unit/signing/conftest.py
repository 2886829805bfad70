"""Fixtures for the signing tests: keys, a built Panorama project and its (hand-written) report.

Reports are written in the JSON report's form (``report_to_dict``) from the real bytes of the
project, so signing is tested without depending on the scan pipeline; the integration tests
run the real ``scan`` end to end.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from signing.keys import KeyType, write_keypair
from tests.helpers.project_builder import BuiltProject, build_project
from tests.helpers.signing_fixtures import (
    PASSWORD,
    Keys,
    project_files,
    report_for,
)


@pytest.fixture(scope="session")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys")


@pytest.fixture(scope="session")
def ec_keys(key_dir: Path) -> Keys:
    priv, pub = write_keypair(key_dir / "ec", KeyType.ECDSA_P256, PASSWORD)
    return Keys(priv, pub, KeyType.ECDSA_P256)


@pytest.fixture(scope="session")
def ed_keys(key_dir: Path) -> Keys:
    priv, pub = write_keypair(key_dir / "ed", KeyType.ED25519, PASSWORD)
    return Keys(priv, pub, KeyType.ED25519)


@pytest.fixture(scope="session")
def other_keys(key_dir: Path) -> Keys:
    priv, pub = write_keypair(key_dir / "other", KeyType.ECDSA_P256, PASSWORD)
    return Keys(priv, pub, KeyType.ECDSA_P256)


@pytest.fixture(params=["ecdsa-p256", "ed25519"])
def keys(request: pytest.FixtureRequest, ec_keys: Keys, ed_keys: Keys) -> Keys:
    return ec_keys if request.param == "ecdsa-p256" else ed_keys


@dataclass
class Signed:
    project: BuiltProject
    report: Path
    out: Path


@pytest.fixture
def project(tmp_path: Path) -> BuiltProject:
    return build_project(tmp_path / "app")


@pytest.fixture
def report_path(tmp_path: Path, project: BuiltProject) -> Path:
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report_for(project.root, project_files(project))))
    return path
