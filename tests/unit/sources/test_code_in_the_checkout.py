"""Is a code package's code in the checkout? What its Dockerfile copies, and whether it is there."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.sources._coverage import check_code_sources


def _package(tmp_path: Path, dockerfile: str, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (tmp_path / "Dockerfile").write_text(
        "FROM public.ecr.aws/panorama/panorama-application:1.2.1\n" + dockerfile
    )
    return tmp_path


@pytest.mark.parametrize(
    ("dockerfile", "files", "entry", "present", "missing"),
    [
        # the code is there
        ("COPY src /panorama\n", {"src/app.py": ""}, "/panorama/app.py", True, []),
        (
            "WORKDIR /panorama\nCOPY . .\n",
            {"application.py": ""},
            "/panorama/application.py",
            True,
            [],
        ),
        ("COPY app.py /panorama/\n", {"app.py": ""}, "/panorama/app.py", True, []),
        ("COPY src/*.py /panorama/\n", {"src/app.py": ""}, "/panorama/app.py", True, []),
        # a model folder kept out of git: not code, noted as not covered
        (
            "COPY src /panorama\nCOPY onnx_model /panorama/onnx_model\n",
            {"src/app.py": ""},
            "/panorama/app.py",
            True,
            ["onnx_model"],
        ),
        # two sources into one folder: the one that holds the entry script decides
        (
            "COPY src /panorama\nCOPY weights /panorama\n",
            {"src/app.py": ""},
            "/panorama/app.py",
            True,
            ["weights"],
        ),
        # the code is not there
        ("COPY src /panorama\n", {}, "/panorama/app.py", False, ["src"]),
        ("COPY src /panorama\n", {}, None, False, ["src"]),
        (
            "COPY requirements.txt /tmp/\nCOPY src /panorama\n",
            {"requirements.txt": "boto3\n"},
            "/panorama/app.py",
            False,
            ["src"],
        ),
        (
            "COPY requirements.txt /tmp/\nCOPY src /panorama\n",
            {"requirements.txt": "boto3\n"},
            None,  # no descriptor: what is there holds no Python at all
            False,
            ["src"],
        ),
    ],
)
def test_what_the_dockerfile_copies(
    tmp_path: Path,
    dockerfile: str,
    files: dict[str, str],
    entry: str | None,
    present: bool,
    missing: list[str],
) -> None:
    folder = _package(tmp_path, dockerfile, files)
    check = check_code_sources(folder, folder / "Dockerfile", entry)
    assert check.present is present
    assert [src for src, _ in check.missing] == missing
    if not present:
        assert check.line is not None
        assert check.reason


def test_a_dockerfile_that_copies_nothing_has_no_code_here(tmp_path: Path) -> None:
    folder = _package(tmp_path, "RUN pip install myapp==1.0\n", {"README.md": ""})
    check = check_code_sources(folder, folder / "Dockerfile", "/usr/local/bin/myapp")
    assert not check.present
    assert "copies nothing" in check.reason


def test_without_a_dockerfile_any_source_file_counts(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("")
    assert check_code_sources(tmp_path, None).present
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "package.json").write_text("{}")
    assert not check_code_sources(empty, None).present
