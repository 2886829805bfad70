"""Fuzz targets: one function per reader, each taking arbitrary bytes.

A target may end in one of its *declared* errors (the clear error a user sees); any other
exception is a crash. The same targets serve the hypothesis smoke tests
(``tests/fuzz/test_fuzz_smoke.py``), the coverage-guided atheris runner
(``tests/fuzz/run_atheris.py``) and the long run (``benchmarks/fuzz.py``).
"""

from __future__ import annotations

import io
import json
import pickle
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner.analyzers.interface import FileAnalyzer
from scanner.config import ArchiveLimits
from scanner.errors import ScannerError
from scanner.models import AnalyzerFailure
from tests.helpers.entries import make_entry

LIMITS = ArchiveLimits(
    max_member_bytes=4 << 20,
    max_total_bytes=16 << 20,
    max_members=2000,
    max_ratio=100.0,
    max_depth=2,
    ratio_floor_bytes=1 << 20,
)


@dataclass(frozen=True)
class Target:
    """A fuzz target: ``run(data)``, the errors it may legitimately end in, and seed inputs."""

    name: str
    run: Callable[[bytes], None]
    declared: tuple[type[BaseException], ...]
    seeds: Callable[[], list[bytes]]


def _drain_reader(reader: Iterable[Any]) -> None:
    for member in reader:
        if member.is_file and member._opener is not None:
            member.read(1 << 20)


# -- archives ------------------------------------------------------------------------------


def fuzz_tar(data: bytes) -> None:
    """The streaming tar reader in both link contexts (every member read)."""
    from scanner.sources.safe_archive import (
        ArchiveStreamError,
        LinkContext,
        SafeTarReader,
    )

    for ctx in LinkContext:
        reader = SafeTarReader(io.BytesIO(data), artifact="f", limits=LIMITS, context=ctx)
        try:
            _drain_reader(reader)
        except ArchiveStreamError:
            pass  # reading content stopped: the walk records it as a finding


def fuzz_zip(data: bytes) -> None:
    """The bounded zip reader."""
    from scanner.sources.safe_archive import ArchiveStreamError, SafeZipReader

    reader = SafeZipReader(io.BytesIO(data), artifact="f", limits=LIMITS)
    try:
        _drain_reader(reader)
    except ArchiveStreamError:
        pass


def fuzz_image(data: bytes) -> None:
    """docker-save / OCI archive resolution (manifest.json, index.json, blobs) and layers."""
    from scanner.errors import SourceError
    from scanner.sources.image import read_image

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "image.tar"
        path.write_bytes(data)
        try:
            layout = read_image(path, Path(tmp), LIMITS, "image.tar")
        except SourceError:
            return
        try:
            for layer in layout.layers:
                with layer.open() as blob:
                    blob.read(1 << 20)
        finally:
            layout.close()


def fuzz_oci_index(data: bytes) -> None:
    """Index/manifest JSON following: arbitrary JSON documents as index, manifest and config."""
    from scanner.errors import SourceError
    from scanner.sources.image import _choose_manifest

    try:
        docs = json.loads(data)
    except (ValueError, RecursionError):
        return
    if not isinstance(docs, list) or not docs:
        docs = [docs]
    index = docs[0] if isinstance(docs[0], dict) else {"manifests": docs[0]}
    blobs = [json.dumps(d).encode() for d in docs[1:]] or [b"{}"]

    def read_blob(digest: str) -> bytes:
        return blobs[hash(digest) % len(blobs)]

    try:
        _choose_manifest(index, read_blob, "fuzz")
    except SourceError:
        pass


def fuzz_detect(data: bytes) -> None:
    """Target detection by content (sniffing, tar head, zip directory)."""
    from scanner.errors import SourceError
    from scanner.sources.detect import sniff_file

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "target.bin"
        path.write_bytes(data)
        try:
            sniff_file(path)
        except SourceError:
            pass


# -- manifests -----------------------------------------------------------------------------


def fuzz_manifest(data: bytes) -> None:
    """The Panorama manifest models: parse and validate as every kind."""
    from scanner.sources.manifests import line_index, parse_json_text, validate_document

    try:
        doc = parse_json_text(data)
    except ScannerError:
        return
    except ValueError:
        return  # declared: not JSON (the loader turns it into a finding)
    for kind in ("graph", "package", "descriptor", "override"):
        for issue in validate_document(kind, doc):
            assert issue.message
    line_index(data.decode("utf-8", "replace"))


# -- models --------------------------------------------------------------------------------


def fuzz_pickle(data: bytes) -> None:
    """The symbolic pickle walker (never unpickles)."""
    from scanner.analyzers.ml._pickle_vm import PickleError, scan_pickle

    try:
        scan_pickle(io.BytesIO(data))
    except PickleError:
        pass


def _analyzer_target(cls_path: str, names: tuple[str, ...]) -> Callable[[bytes], None]:
    def run(data: bytes) -> None:
        module, _, attr = cls_path.partition(":")
        import importlib

        cls = getattr(importlib.import_module(module), attr)
        analyzer: FileAnalyzer = cls()
        name = names[data[0] % len(names)] if data else names[0]
        for out in analyzer.analyze(make_entry(name, data)):
            if isinstance(out, AnalyzerFailure):
                assert out.reason

    return run


fuzz_onnx = _analyzer_target("scanner.analyzers.ml.onnx_model:OnnxAnalyzer", ("model.onnx",))
fuzz_tensorflow = _analyzer_target(
    "scanner.analyzers.ml.tensorflow_model:TensorFlowAnalyzer", ("saved_model.pb", "frozen.pb")
)
fuzz_keras = _analyzer_target(
    "scanner.analyzers.ml.keras_model:KerasAnalyzer", ("model.h5", "model.keras")
)
fuzz_mxnet = _analyzer_target(
    "scanner.analyzers.ml.mxnet_model:MxnetAnalyzer", ("net-symbol.json", "net-0000.params")
)
fuzz_safetensors = _analyzer_target(
    "scanner.analyzers.ml.safetensors_model:SafetensorsAnalyzer", ("model.safetensors",)
)
fuzz_pickle_family = _analyzer_target(
    "scanner.analyzers.ml.pickle_family:PickleAnalyzer",
    ("model.pkl", "model.pt", "weights.joblib", "arr.npy", "arr.npz"),
)


# -- policy, waivers, bundles --------------------------------------------------------------


def fuzz_policy(data: bytes) -> None:
    """The policy loader (YAML, typed model, line-numbered errors)."""
    from scanner.policy.model import parse_policy

    parse_policy(data, "fuzz.yaml")


def fuzz_waivers(data: bytes) -> None:
    """The waivers loader."""
    from scanner.policy.waivers import parse_waivers

    parse_waivers(data, "waivers.yaml")


_VERIFIER: Any = None


def fuzz_bundle(data: bytes) -> None:
    """Bundle parsing and verification with a key that did not sign it."""
    global _VERIFIER
    from signing.keys import generate_private_key
    from signing.signer import PublicKeyVerifier
    from signing.verify import verify_attestation

    if _VERIFIER is None:
        _VERIFIER = PublicKeyVerifier(generate_private_key().public_key())
    verify_attestation(data, _VERIFIER)


# -- seeds ---------------------------------------------------------------------------------


def _tar_seed(names: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, content in names.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(content)
            tf.addfile(ti, io.BytesIO(content))
        link = tarfile.TarInfo("etc/link")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/hostname"
        tf.addfile(link)
    return buf.getvalue()


def _zip_seed() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("archive/data.pkl", pickle.dumps({"w": [1.0, 2.0]}, protocol=2))
        zf.writestr("archive/version", b"3\n")
    return buf.getvalue()


def _image_seed() -> bytes:
    from tests.helpers.archives import M, docker_save_archive

    return docker_save_archive(
        [[M("etc/hostname", b"x"), M("panorama/app.py", b"print(1)")]], oci_layout=True
    )


def _onnx_seed() -> bytes:
    from onnx import TensorProto, helper

    node = helper.make_node("Relu", ["x"], ["y"])
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.metadata_props.add(key="author", value="fuzz")
    return bytes(model.SerializeToString())


def _policy_seed() -> list[bytes]:
    from scanner.policy.model import bundled_policy_path

    return [bundled_policy_path("default").read_bytes(), bundled_policy_path("strict").read_bytes()]


def _pickle_seeds() -> list[bytes]:
    import collections

    return [pickle.dumps(collections.OrderedDict(a=1, b=[1.0, 2.0]), protocol=p) for p in range(6)]


def _bundle_seed() -> list[bytes]:
    env = {
        "payloadType": "application/vnd.in-toto+json",
        "payload": "e30=",
        "signatures": [{"sig": "MEUCIQ==", "keyid": ""}],
    }
    bundle = {
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {"publicKey": {"hint": "abc"}},
        "dsseEnvelope": env,
    }
    return [json.dumps(bundle).encode()]


def _manifest_seeds() -> list[bytes]:
    graph = {
        "nodeGraph": {
            "envelopeVersion": "2021-01-01",
            "packages": [{"name": "123456789012::app", "version": "1.0"}],
            "nodes": [{"name": "n", "interface": "123456789012::app.i"}],
            "edges": [],
        }
    }
    desc = {
        "runtimeDescriptor": {
            "envelopeVersion": "2021-01-01",
            "entry": {"path": "python3", "name": "/panorama/app.py"},
        }
    }
    return [json.dumps(graph).encode(), json.dumps(desc).encode()]


TARGETS: dict[str, Target] = {
    t.name: t
    for t in [
        Target(
            "tar", fuzz_tar, (), lambda: [_tar_seed({"etc/hostname": b"h", "panorama/a.py": b"x"})]
        ),
        Target("zip", fuzz_zip, (), lambda: [_zip_seed()]),
        Target("detect", fuzz_detect, (), lambda: [_zip_seed(), _image_seed(), b"\x80\x02N."]),
        Target("image", fuzz_image, (), lambda: [_image_seed()]),
        Target(
            "oci-index",
            fuzz_oci_index,
            (),
            lambda: [b'[{"manifests":[{"digest":"sha256:00"}]},{"layers":[],"config":{}}]'],
        ),
        Target("manifest", fuzz_manifest, (), _manifest_seeds),
        Target("pickle", fuzz_pickle, (), _pickle_seeds),
        Target("pickle-family", fuzz_pickle_family, (), lambda: [*_pickle_seeds(), _zip_seed()]),
        Target("onnx", fuzz_onnx, (), lambda: [_onnx_seed()]),
        Target("tensorflow", fuzz_tensorflow, (), lambda: [b"\n\x08\n\x06\n\x01x\x12\x01\x00"]),
        Target("keras", fuzz_keras, (), lambda: [_zip_seed(), b"\x89HDF\r\n\x1a\n" + bytes(64)]),
        Target(
            "mxnet", fuzz_mxnet, (), lambda: [b'{"nodes":[{"op":"null","name":"data"}],"heads":[]}']
        ),
        Target(
            "safetensors",
            fuzz_safetensors,
            (),
            lambda: [
                (b'{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}')
                .__len__()
                .to_bytes(8, "little")
                + b'{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
                + bytes(4)
            ],
        ),
        Target("policy", fuzz_policy, (ScannerError,), _policy_seed),
        Target(
            "waivers",
            fuzz_waivers,
            (ScannerError,),
            lambda: [
                b"waivers:\n- rule: secrets.aws-access-key-id\n  reason: test\n"
                b"  owner: a@b.c\n  expires: 2030-01-01\n"
            ],
        ),
        Target("bundle", fuzz_bundle, (ScannerError,), _bundle_seed),
    ]
}


def run_one(target: Target, data: bytes) -> None:
    """Run a target on one input; declared errors pass, anything else propagates (a crash)."""
    try:
        target.run(data)
    except target.declared:
        pass


def write_seeds(target: Target, folder: Path) -> Path:
    """Write a target's seed inputs into a corpus folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, seed in enumerate(target.seeds()):
        (folder / f"seed-{i}").write_bytes(seed)
    return folder
