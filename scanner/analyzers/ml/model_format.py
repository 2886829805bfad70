"""``model-format``: files taken as models whose content no model analyzer reads.

A file is *taken as a model* by its name (``MODEL_SUFFIXES``: ``.pt``, ``.pkl``, ``.onnx``...;
inside a model artifact also the generic ``.bin``, ``.dat``, ``.model``, ``.weights``...). What
it *is* comes from its bytes (``scanner.sources.sniff``). When the two disagree, nothing was
checked, and that is never approved silently:

- ``unrecognised`` (medium): the content matches no format panorama-gate reads (random bytes,
  an engine or weights format of another runtime, an image under a ``.pt`` name). The policy
  rates it; the default policy warns, ``strict`` rejects.
- ``uninspected`` (low): a recognised model format whose contents are not inspected (TFLite,
  GGUF): the report says so.

Names that have an analyzer of their own (``.onnx``, ``.h5``, ``.keras``, ``.safetensors``,
``.params``, ``-symbol.json``, ``saved_model.pb``) are left to it: it reports a file that is not
what its name says as ``malformed``. Text under ``.pth`` (``site-packages`` path files) and
``.pbtxt`` (label maps) names is text, as it should be.

Example::

    for finding in ModelFormatAnalyzer().analyze(entry):
        print(finding.rule_id, finding.message)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from scanner.analyzers.entry import FileEntry
from scanner.analyzers.interface import FileAnalyzer, Output
from scanner.analyzers.ml._common import MODEL_MAX_SIZE, model_finding, sniffed_of
from scanner.models import Severity
from scanner.sources.sniff import ContentKind, has_model_name

__all__ = ["ModelFormatAnalyzer"]

# Their own analyzer reports content that is not what the name says (``malformed``).
_CLAIMED = (".onnx", ".h5", ".hdf5", ".keras", ".safetensors", ".params", "-symbol.json")
_CLAIMED_NAMES = ("saved_model.pb", "keras_metadata.pb")
# Names under which text is expected (path files, label maps and other text protobufs).
_TEXT_OK = (".pth", ".pbtxt", ".p", ".dat", ".model", ".weights", ".bin", ".sav")
_NOT_UNDERSTOOD = frozenset({ContentKind.UNKNOWN, ContentKind.OTHER, ContentKind.COMPRESSED})
_UNINSPECTED = frozenset({ContentKind.TFLITE, ContentKind.GGUF})
# Compressed streams too long to sniff inside that the pickle analyzer opens itself.
_PICKLE_NAMES = (".pkl", ".pickle", ".joblib", ".dill", ".pt", ".pth", ".npy", ".p")


class ModelFormatAnalyzer(FileAnalyzer):
    """Says so when a file named like a model holds no model format panorama-gate reads."""

    name: ClassVar[str] = "model-format"
    version: ClassVar[int] = 1
    tags: ClassVar[frozenset[str]] = frozenset({"model"})
    max_size: ClassVar[int] = MODEL_MAX_SIZE

    def wants(self, path: str, size: int, mode: int = 0o644) -> bool:
        """Model names (the generic ones are judged in ``analyze``, which knows the artifact);
        a loose file scanned on its own is a model whatever its name (see ``analyze``)."""
        if size == 0 or size > self.max_size:
            return False
        low = path.lower()
        if "/" in low and not has_model_name(low, generic=True):
            return False  # most files of a walk: the cheapest test first
        base = low.rsplit("/", 1)[-1]
        return not (low.endswith(_CLAIMED) or base in _CLAIMED_NAMES)

    def analyze(self, entry: FileEntry) -> Iterator[Output]:
        """One finding when the content is not a format any model analyzer reads."""
        low = entry.path.lower()
        loose = entry.path == entry.artifact  # the scanned target itself: taken as a model
        # ``.bin``/``.dat`` count inside a model artifact; across a root filesystem they are
        # firmware and data
        if not loose and not has_model_name(low, generic=bool(entry.extra.get("model_artifact"))):
            return
        what = sniffed_of(entry)
        kind = what.kind
        if kind in _UNINSPECTED:
            yield model_finding(
                self.name,
                "uninspected",
                Severity.LOW,
                f"{entry.path} is a {what.describe()} model; panorama-gate recognises the format "
                "but does not inspect its contents.",
                entry.location(),
                f"uninspected:{kind.value}",
                properties={"format": what.describe()},
            )
            return
        base = low.rsplit(".", 1)[0] if "." in low else low
        if kind is ContentKind.COMPRESSED and base.endswith(_PICKLE_NAMES):
            return  # the pickle analyzer decompresses it and fails closed if it cannot
        if kind is ContentKind.TEXT and low.endswith(_TEXT_OK) and not loose:
            return
        if kind not in _NOT_UNDERSTOOD and kind is not ContentKind.TEXT:
            return
        yield model_finding(
            self.name,
            "unrecognised",
            Severity.MEDIUM,
            f"{entry.path} is named like a model but its content ({what.describe()}) matches no "
            "model format panorama-gate reads, so nothing in it was checked; find out what "
            "loads it (a TensorRT engine, OpenVINO weights...) before trusting it, and waive "
            "this finding once you have.",
            entry.location(),
            f"unrecognised:{kind.value}:{what.detail}",
            properties={"content": what.describe()},
        )
