"""The emulated panoramasdk's contract, run in a child interpreter as the sandbox would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from scanner.sandbox._stage import data_dir

RUN = {
    "frames": {"fps": 0, "width": 64, "height": 48, "streams": 2},
    "max_frames": 3,
    "seconds": 30,
    "interface": {
        "known": True,
        "inputs": [{"name": "video_in", "type": "media"}, {"name": "threshold", "type": "float32"}],
        "outputs": [{"name": "video_out", "type": "media"}],
    },
    "parameters": {"threshold": 0.25},
    "models": [
        {
            "name": "detector",
            "inputs": [{"name": "data", "shape": [1, 3, 8, 8]}],
            "output_shapes": [[1, 5], [1, 5, 4]],
        }
    ],
    "models_open": False,
}


def run_app(tmp_path: Path, body: str, run: dict | None = None) -> subprocess.CompletedProcess[str]:
    cfg = tmp_path / "run.json"
    cfg.write_text(json.dumps(run or RUN))
    app = tmp_path / "app.py"
    app.write_text("import panoramasdk\n" + textwrap.dedent(body))
    env = {
        **os.environ,
        "PYTHONPATH": str(data_dir() / "site"),
        "PANORAMA_GATE_RUN": str(cfg),
        "PANORAMA_GATE_STATUS": "",
    }
    return subprocess.run(
        [sys.executable, str(app)], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def test_ports_parameters_media_and_models(tmp_path):
    r = run_app(
        tmp_path,
        """
        class App(panoramasdk.node):
            def __init__(self):
                self.threshold = self.inputs.threshold.get()
        app = App()
        frames = app.inputs.video_in.get()
        m = frames[0]
        out = app.call({"data": m.image}, "detector")
        print(app.threshold, len(frames), m.image.shape, str(m.image.dtype), m.stream_id,
              frames[1].stream_id, len(m.time_stamp), [o.shape for o in out])
        m.add_rect(0.1, 0.2, 0.5, 0.6)
        m.add_label("x", 0.0, 0.99)
        app.outputs.video_out.put(frames)
    """,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [
        "0.25",
        "2",
        "(48,",
        "64,",
        "3)",
        "uint8",
        "cam1_id",
        "cam2_id",
        "2",
        "[(1,",
        "5),",
        "(1,",
        "5,",
        "4)]",
    ]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("app.inputs.video_in.get()[0].add_rect(0.1, 0.1, 1.0, 0.5)", "ValueError"),
        ("app.inputs.video_in.get()[0].add_label('t', -0.1, 0.5)", "ValueError"),
        ("app.outputs.video_out.put([])", "ValueError"),
        ("app.outputs.video_out.put([1])", "TypeError"),
        ("app.call({'data': 1}, 'nope')", "KeyError"),
        ("app.inputs.nope", "AttributeError"),
        ("app.outputs.video_out.get()", "AttributeError"),
    ],
    ids=[
        "rect-out-of-range",
        "label-negative",
        "put-empty",
        "put-not-media",
        "unknown-model",
        "unknown-port",
        "get-on-output",
    ],
)
def test_sdk_errors(tmp_path, body, error):
    r = run_app(
        tmp_path,
        f"""
        class App(panoramasdk.node):
            pass
        app = App()
        {body}
    """,
    )
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1].startswith(error), r.stderr


def test_frames_run_out_with_a_clean_exit_even_if_the_app_swallows_it(tmp_path):
    r = run_app(
        tmp_path,
        """
        import sys
        class App(panoramasdk.node):
            pass
        app = App()
        n = 0
        while True:
            try:
                app.inputs.video_in.get()
                n += 1
            except BaseException:
                print("swallowed after", n, flush=True)
    """,
    )
    assert r.returncode == 0
    assert r.stdout.strip() == "swallowed after 3"


def test_get_timeout_raises_timeout_error(tmp_path):
    run = {**RUN, "frames": {**RUN["frames"], "fps": 0.5}}
    r = run_app(
        tmp_path,
        """
        class App(panoramasdk.node):
            pass
        app = App()
        app.inputs.video_in.get()
        try:
            app.inputs.video_in.get(timeout=0.05)
        except TimeoutError:
            print("timeout")
    """,
        run,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "timeout"


def test_without_a_graph_any_port_is_media_and_any_model_answers(tmp_path):
    run = {**RUN, "interface": {"known": False}, "models": [], "models_open": True}
    r = run_app(
        tmp_path,
        """
        class App(panoramasdk.node):
            pass
        app = App()
        f = app.inputs.camera_feed.get()
        out = app.call(f[0], "whatever")
        print(len(f), out[0].shape)
    """,
        run,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["2", "(1,", "1000)"]


def test_sdk_source_stays_python37_compatible():
    import ast

    for path in [data_dir() / "pg_init.py", *(data_dir() / "site").rglob("*.py")]:
        ast.parse(path.read_text(), feature_version=(3, 7))


def test_onnx_model_runs_with_onnxruntime_when_present(tmp_path):
    pytest.importorskip("onnxruntime")
    from tests.helpers.onnx_models import pooled_classifier_onnx

    model = tmp_path / "m.onnx"
    model.write_bytes(pooled_classifier_onnx())
    run = {
        **RUN,
        "models": [
            {
                "name": "detector",
                "onnx": str(model),
                "inputs": [{"name": "data", "shape": [1, 3, 8, 8]}],
            }
        ],
    }
    r = run_app(
        tmp_path,
        """
        import numpy as np
        from panoramasdk import _models
        class App(panoramasdk.node):
            pass
        app = App()
        out = app.call({"data": np.ones((1, 3, 8, 8), np.float32)}, "detector")
        print(_models["detector"].mode, out[0].shape, round(float(out[0][0, 0]), 3))
    """,
        run,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["onnxruntime", "(1,", "10)", "0.3"]
