"""What an unbuilt code package declares: requirements files, constraints, Dockerfile pip lines."""

from __future__ import annotations

from scanner.analyzers._inventory import Inventory, declared_only
from scanner.analyzers._requirements import parse_requirements


def _pins(data: bytes, path: str) -> list[tuple[str, str, str, int | None]]:
    return [(r.name, r.version, r.specifier, r.line) for r in parse_requirements(data, path)]


def test_requirements_lines_count_across_continuations() -> None:
    data = (
        b"a==1.0 \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb\n"
        b"b>=2  # comment\n-r other.txt\nc[extra]==3.1; python_version>'3'\n"
    )
    assert _pins(data, "requirements.txt") == [
        ("a", "1.0", "==1.0", 1),
        ("b", "", ">=2", 4),
        ("c", "3.1", "==3.1", 6),
    ]


def test_dockerfile_pip_installs_at_the_line_that_names_them() -> None:
    data = (
        b"FROM public.ecr.aws/panorama/panorama-application:1.2.1-arm64v8\n"
        b"ARG WHL=torch-1.10.0-cp37-cp37m-linux_aarch64.whl\n"
        b"RUN apt-get update && \\\n"
        b"    python3 -m pip install --no-cache-dir \\\n"
        b"        opencv-python-headless==4.5.4.60 \\\n"
        b"        boto3 \\\n"
        b"        ${WHL} /tmp/tool-2.1-py3-none-any.whl -r requirements.txt\n"
        b"RUN pip install 'numpy>=1.20,<2' --upgrade pip\n"
    )
    assert _pins(data, "Dockerfile") == [
        ("opencv-python-headless", "4.5.4.60", "==4.5.4.60", 5),
        ("boto3", "", "", 6),
        ("torch", "1.10.0", "==1.10.0", 7),
        ("tool", "2.1", "==2.1", 7),
        ("numpy", "", ">=1.20,<2", 8),
        ("pip", "", "", 8),
    ]


def test_a_constraint_pins_what_a_requirement_leaves_open() -> None:
    inv = Inventory("pkg")
    inv.declared.extend(parse_requirements(b"opencv-python\nboto3\n", "requirements.txt"))
    inv.declared.extend(
        parse_requirements(b"opencv-python==4.7.0.72\nnumpy==1.24.4\n", "constraints.txt")
    )
    got = {(r.name, r.version, r.path) for r in declared_only(inv)}
    # numpy is only constrained, not requested: not part of the inventory
    assert got == {
        ("opencv-python", "4.7.0.72", "requirements.txt"),
        ("boto3", "", "requirements.txt"),
    }


def test_direct_references_are_declared_without_a_version() -> None:
    data = (
        b"git+https://github.com/example/tracker.git@v1.2#egg=tracker\n"
        b"lib @ https://files.example.com/lib-src.tar.gz?token=x\n"
        b"https://files.example.com/wheels/fast-0.3-py3-none-any.whl\n"
    )
    assert _pins(data, "requirements.txt") == [
        ("tracker", "", "@ git+https://github.com/example/tracker.git@v1.2", 1),
        ("lib", "", "@ https://files.example.com/lib-src.tar.gz", 2),  # no query: tokens
        ("fast", "0.3", "==0.3", 3),
    ]
