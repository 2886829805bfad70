"""A Panorama project whose container asset runs real Python apps, for the profile tests.

The project comes from the shared project builder; its container asset is replaced by a rootfs
with a real Python (so the entry point can run) and re-addressed by its digest, as
``panorama-cli build-container`` would leave it.
"""

from __future__ import annotations

from pathlib import Path

from tests.helpers.project_builder import ProjectSpec, build_project, sha256_hex
from tests.helpers.sandbox_rootfs import app_rootfs

# Checks what the graph says reaches the app: the threshold parameter's value and strict ports.
GRAPH_APP = """\
import panoramasdk


class App(panoramasdk.node):
    def __init__(self):
        super().__init__()
        self.threshold = self.inputs.threshold.get()
        assert self.threshold == 0.5, self.threshold
        try:
            self.inputs.not_in_the_graph
        except AttributeError:
            pass
        else:
            raise SystemExit("ports not taken from the graph")

    def step(self):
        media = self.inputs.video_in.get()
        for m in media:
            m.add_label("t=%s" % self.threshold, 0.1, 0.1)
        self.outputs.video_out.put(media)


app = App()
while True:
    app.step()
"""


def project_with_apps(root: Path, apps: dict[str, str]) -> Path:
    """A project whose container asset holds ``apps`` (``app`` is the entry point)."""
    proj = build_project(root, ProjectSpec(with_model=False))
    assert proj.container_asset is not None
    rootfs = app_rootfs(root / "rootfs.tar.gz", apps, compress=True)
    data = rootfs.read_bytes()
    rootfs.unlink()
    new_asset = proj.container_asset.with_name(f"{sha256_hex(data)}.tar.gz")
    new_asset.write_bytes(data)
    proj.container_asset.unlink()
    pkg_json = proj.code_dir / "package.json"
    pkg_json.write_text(pkg_json.read_text().replace(proj.container_asset.name, new_asset.name))
    return root
