"""Checks that model files are what the manifest or their format says: present, pinned sha256 and size, whole files."""

from __future__ import annotations

from pathlib import Path

from harness.errors import DataMissing
from harness.models.manifest import ModelEntry
from harness.system.fingerprint import cached_sha256

__all__ = ["check_model_path", "check_onnx_file", "check_tflite_file", "verify_model"]


def verify_model(entry: ModelEntry) -> list[Path]:
    """The entry's files, checked: present, and matching their pinned sha256 where one is given (hashed once per process)."""
    paths = entry.paths()
    missing = [p for p in paths if not p.is_file()]
    if missing:
        how = "run `arbench models build`" if entry.recipe else f"install its source ({entry.source})"
        raise DataMissing(f"model {entry.id}: {missing[0]} is missing; {how}")
    for path, size in zip(paths, entry.size_bytes, strict=False):
        if path.stat().st_size != size:
            raise DataMissing(
                f"model {entry.id}: {path} is {path.stat().st_size} bytes, the manifest says {size};"
                " the file is truncated or replaced: rebuild it with `arbench models build --force` or restore it"
            )
    for path, expected in zip(paths, entry.sha256, strict=False):
        actual = cached_sha256(path)
        if actual != expected:
            raise DataMissing(
                f"model {entry.id}: {path} has sha256 {actual[:12]}…, the manifest pins {expected[:12]}…;"
                " the file is corrupt or replaced: rebuild it with `arbench models build --force` or restore it"
            )
    return paths


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("truncated varint")
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos, shift = pos + 1, shift + 7
        if not byte & 0x80:
            return value, pos


def check_onnx_file(path: Path) -> None:
    """Raise DataMissing unless ``path`` is a whole ONNX model: its top-level protobuf fields parse to the last byte.

    A cheap check of files that no sha256 pins (a model named by path): it catches a truncated, empty or
    non-ONNX file before a run starts, without loading ONNX Runtime in the harness process.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataMissing(f"model file {path}: {exc.strerror}") from None
    pos, fields = 0, set()
    try:
        while pos < len(data):
            tag, pos = _varint(data, pos)
            number, wire = tag >> 3, tag & 7
            if wire == 0:
                _, pos = _varint(data, pos)
            elif wire == 2:
                length, pos = _varint(data, pos)
                pos += length
            elif wire in (1, 5):
                pos += 8 if wire == 1 else 4
            else:
                raise ValueError(f"wire type {wire}")
            if pos > len(data):
                raise ValueError("a field runs past the end of the file")
            fields.add(number)
    except ValueError as exc:
        raise DataMissing(f"model file {path} is not a whole ONNX model ({exc}): the file is corrupt or truncated") from None
    if not {1, 7} <= fields:  # ir_version and graph
        raise DataMissing(f"model file {path} is not an ONNX model (no ir_version or graph): the file is corrupt or of another kind")


def check_tflite_file(path: Path) -> None:
    """Raise DataMissing unless ``path`` is a TFLite model: a FlatBuffer with the file identifier "TFL3" at bytes 4-8."""
    with path.open("rb") as stream:
        head = stream.read(8)
    if len(head) < 8 or head[4:8] != b"TFL3" or path.stat().st_size < 64:
        raise DataMissing(f"model file {path} is not a TFLite model (no TFL3 identifier): the file is corrupt or of another kind")


FORMS = {"onnx": check_onnx_file, "tflite": check_tflite_file}


def check_model_path(path: Path, form: str, what: str) -> None:
    """Raise DataMissing unless ``path`` (named by the user for ``what``) exists and is ``form``: "dir", "onnx", "tflite", "" (a file)."""
    if form == "dir":
        if not path.is_dir():
            raise DataMissing(f"{what}: model directory {path} not found; fix the path in the experiment")
        return
    if not path.is_file():
        raise DataMissing(f"{what} model not found: {path}; fix the path in the experiment")
    if form in FORMS:
        FORMS[form](path)

