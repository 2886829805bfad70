"""Outside data reaching eval, a shell or a deserializer is found inside a module; the same
calls on constants or shipped files are left to bandit's own (medium) findings."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.analyzers._input_sinks import input_fed_sinks, input_sink_findings
from scanner.models import Severity

HOSTILE = {
    "eval(input())": ("x = eval(input('> '))\n", "eval", "input()"),
    "exec of stdin": ("import sys\nexec(sys.stdin.read())\n", "exec", "standard input"),
    "pickle of socket data": (
        "import pickle, socket\n"
        "def serve(conn):\n"
        "    buf = b''\n"
        "    while True:\n"
        "        chunk = conn.recv(4096)\n"
        "        if not chunk:\n"
        "            break\n"
        "        buf += chunk\n"
        "    return pickle.loads(buf)\n",
        "pickle.loads",
        "socket data",
    ),
    "yaml of an HTTP body via a helper": (
        "import requests, yaml\n"
        "def fetch():\n"
        "    return requests.get('https://cfg.example', timeout=5).text\n"
        "cfg = yaml.load(fetch(), Loader=yaml.Loader)\n",
        "yaml.load",
        "an HTTP response",
    ),
    "aliased loader of a request body": (
        "from pickle import loads as restore\nfrom flask import request\n"
        "def upload():\n    return restore(request.get_data())\n",
        "pickle.loads",
        "a web request body",
    ),
    "shell with urlopen": (
        "import subprocess\nfrom urllib.request import urlopen\n"
        "with urlopen('https://x.example') as r:\n"
        "    subprocess.run(r.read().decode(), shell=True)\n",
        "subprocess.run",
        "an HTTP response",
    ),
    "mqtt payload to marshal": (
        "import marshal\ndef on_message(client, userdata, msg):\n"
        "    code = marshal.loads(msg.payload)\n",
        "marshal.loads",
        "a message payload",
    ),
}

BENIGN = {
    "eval of a constant": "x = eval('1 + 1')\n",
    "safe yaml of an HTTP body": (
        "import requests, yaml\ncfg = yaml.safe_load(requests.get('u', timeout=5).text)\n"
        "cfg2 = yaml.load(requests.get('u', timeout=5).text, Loader=yaml.SafeLoader)\n"
    ),
    "pickle of a shipped file": "import pickle\nlabels = pickle.load(open('labels.pkl', 'rb'))\n",
    "json of socket data": "import json\ndef f(s):\n    return json.loads(s.recv(100))\n",
    "shell without shell=True": ("import subprocess\nsubprocess.run(['ls', input()])\n"),
    "unparsable": "def broken(:\n",
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_outside_data_reaching_a_sink_is_found(case: str) -> None:
    source, sink, origin = HOSTILE[case]
    (found,) = input_fed_sinks(source.encode())
    assert (found.sink, found.source) == (sink, origin)


@pytest.mark.parametrize("case", sorted(BENIGN))
def test_sinks_without_outside_data_are_not(case: str) -> None:
    assert input_fed_sinks(BENIGN[case].encode()) == []


def test_findings_are_high_name_the_line_and_honour_nosec(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(
        "import pickle\n"
        "a = eval(input())\n"
        "b = eval(input())  # nosec B307\n"
        "c = pickle.loads(input().encode())  # nosec\n"
    )
    (f,) = input_sink_findings(tmp_path, ["app.py"], "code.tar")
    assert (f.rule_id, f.severity, f.location.path, f.location.line) == (
        "code.untrusted-input-executed",
        Severity.HIGH,
        "app.py",
        2,
    )
    assert f.cwe == 95
