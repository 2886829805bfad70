"""The one Dockerfile parser: instructions and their lines, shell commands, pip installs, COPY."""

from __future__ import annotations

import pytest

from scanner.sources.dockerfile import (
    base_images,
    copy_spec,
    parse_dockerfile,
    pip_install,
    run_commands,
)


def test_continuations_are_joined_and_every_physical_line_is_kept() -> None:
    text = (
        "# syntax=docker/dockerfile:1\nFROM a:1 AS build\n"
        "RUN echo a \\\n  # note\n  && echo b\n\nUSER app\n"
    )
    ins = parse_dockerfile(text)
    assert [(i.keyword, i.line, i.end_line) for i in ins] == [
        ("FROM", 2, 2),
        ("RUN", 3, 5),
        ("USER", 7, 7),
    ]
    assert ins[1].args == "echo a && echo b"
    assert ins[1].line_of("echo b") == 5
    assert ins[1].line_of("absent") == 3


def test_escape_directive_is_honoured() -> None:
    ins = parse_dockerfile("# escape=`\nFROM a:1\nRUN one `\n  two\n")
    assert ins[1].args == "one two"


def test_run_script_splits_into_commands_and_pipelines() -> None:
    (ins,) = parse_dockerfile(
        "RUN apt-get update && curl -fsSL https://x/y | sh; echo 'a && b' || true\n"
    )
    cmds = run_commands(ins)
    assert [c.words for c in cmds] == [
        ("apt-get", "update"),
        ("curl", "-fsSL", "https://x/y"),
        ("sh",),
        ("echo", "a && b"),
        ("true",),
    ]
    assert [c.pipes_to_next for c in cmds] == [False, True, False, False, False]


def test_exec_form_and_shell_in_exec_form() -> None:
    (plain,) = run_commands(parse_dockerfile('RUN ["pip", "install", "a==1"]\n')[0])
    assert plain.words == ("pip", "install", "a==1")
    cmds = run_commands(parse_dockerfile('RUN ["/bin/sh", "-c", "pip install b && echo x"]\n')[0])
    assert [c.program for c in cmds] == ["pip", "echo"]


def test_heredoc_bodies_are_the_script() -> None:
    text = "RUN <<EOF\nset -e\npip install a==1\nEOF\nUSER x\n"
    ins = parse_dockerfile(text)
    assert [i.keyword for i in ins] == ["RUN", "USER"]
    assert ins[0].line_of("a==1") == 3
    pips = [p for c in run_commands(ins[0]) if (p := pip_install(c))]
    assert pips[0].requirements == ("a==1",)


def test_unbalanced_quotes_do_not_lose_the_commands() -> None:
    (ins,) = parse_dockerfile("RUN pip install a==1 && echo 'oops\n")
    assert [c.program for c in run_commands(ins)] == ["pip", "echo"]


@pytest.mark.parametrize(
    ("command", "reqs", "files", "indexes", "trusted"),
    [
        ("pip install a==1 'b>=2'", ("a==1", "b>=2"), (), (), ()),
        ("pip3 install --no-cache-dir -r req.txt", (), ("req.txt",), (), ()),
        ("python3.8 -m pip install -U pip", ("pip",), (), (), ()),
        ("sudo -H pip install -rreqs.txt x", ("x",), ("reqs.txt",), (), ()),
        (
            "pip install -i http://m/simple --trusted-host m y",
            ("y",),
            (),
            ("http://m/simple",),
            ("m",),
        ),
        ("pip install --extra-index-url=https://e/simple z", ("z",), (), ("https://e/simple",), ()),
        ("uv pip install q==3", ("q==3",), (), (), ()),
    ],
)
def test_pip_install_is_understood(
    command: str,
    reqs: tuple[str, ...],
    files: tuple[str, ...],
    indexes: tuple[str, ...],
    trusted: tuple[str, ...],
) -> None:
    (cmd,) = [c for c in run_commands(parse_dockerfile(f"RUN {command}\n")[0]) if c.program]
    pip = pip_install(cmd)
    assert pip is not None
    assert (pip.requirements, pip.requirement_files, pip.index_urls, pip.trusted_hosts) == (
        reqs,
        files,
        indexes,
        trusted,
    )


@pytest.mark.parametrize(
    "command",
    ["pip download a==1", "python3 -c 'import pip'", "pipx install a", "echo pip install"],
)
def test_other_commands_are_not_pip_installs(command: str) -> None:
    for cmd in run_commands(parse_dockerfile(f"RUN {command}\n")[0]):
        assert pip_install(cmd) is None


def test_copy_sources_and_destination() -> None:
    ins = parse_dockerfile(
        'COPY src /panorama\nCOPY --from=build /out /x\nADD ["a b", "c", "/d/"]\nCOPY . .\n'
    )
    specs = [copy_spec(i) for i in ins]
    assert specs[0] is not None
    assert specs[0].sources == ("src",)
    assert specs[0].dest == "/panorama"
    assert specs[1] is not None
    assert specs[1].from_stage
    assert specs[2] is not None
    assert specs[2].sources == ("a b", "c")
    assert specs[3] is not None
    assert specs[3].sources == (".",)


def test_base_images_skip_earlier_stages_and_scratch() -> None:
    ins = parse_dockerfile("FROM a:1 AS b\nRUN x\nFROM b\nFROM scratch\nFROM --platform=x c\n")
    assert [(i.line, image) for i, image in base_images(ins)] == [(1, "a:1"), (5, "c")]
