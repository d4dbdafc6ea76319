"""LiteRT fp16 PP-OCR, made from the shipped fp32 .tflite files by casting their constants to float16.

TensorFlow's converter makes an fp16 model by storing every float32 constant tensor (weights and biases)
as float16 behind a DEQUANTIZE operator that restores float32 before the first inference. This recipe
does exactly that on the flatbuffer, with LiteRT's own schema (``ai_edge_litert.schema_py_generated``),
so the fp16 weights need not be shipped beside the fp32 ones: on the shipped det, rec and cls models the
result computes bit for bit what the onnx2tf fp16 models shipped before computed (tests/test_litert.py
compares them where git history holds those files).
Casting rounds to nearest even, as NumPy and TensorFlow do, and the flatbuffer is written
deterministically: the same fp32 file gives the same bytes on every machine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import BackendUnavailable, DataMissing
from harness.models.recipes.tflite import default_model_path, output_name

__all__ = ["PARTS", "build_default", "cast_to_fp16", "inputs_key"]

RECIPE_VERSION = 1
PARTS = ("det", "cls", "rec")
DEQUANTIZE, FLOAT32, FLOAT16 = 6, 0, 1  # TFLite BuiltinOperator and TensorType codes
INSTALL = "run `pip install 'arbench[tflite]'` (ai-edge-litert, whose schema reads and writes .tflite files)"


def _schema() -> Any:
    try:
        from ai_edge_litert import schema_py_generated
    except ImportError:
        raise BackendUnavailable(f"tflite-fp16 recipe: ai-edge-litert missing; {INSTALL}") from None
    return schema_py_generated


def cast_to_fp16(source: Path, target: Path) -> Path:
    """Write ``target``: ``source`` with every float32 constant stored as float16 behind a DEQUANTIZE operator."""
    schema = _schema()
    import flatbuffers

    model = schema.ModelT.InitFromPackedBuf(source.read_bytes(), 0)
    code = _dequantize_code(model, schema)
    halves: dict[int, int] = {}  # buffer → its float16 tensor, per graph: tensors sharing a buffer share the copy
    emptied = set()
    for graph in model.subgraphs:
        halves.clear()
        constants = [i for i, t in enumerate(graph.tensors) if t.type == FLOAT32 and _has_data(model.buffers[t.buffer])]
        restores = [_restore(model, graph, index, halves, code, schema) for index in constants]
        emptied.update(graph.tensors[index].buffer for index in constants)
        graph.operators = restores + list(graph.operators)  # constants are restored before the first inference
    for buffer in emptied:
        model.buffers[buffer].data = None  # the float32 values are computed now, by the DEQUANTIZE operators
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    target.write_bytes(bytes(builder.Output()))
    return target


def _dequantize_code(model: Any, schema: Any) -> int:
    """The index of DEQUANTIZE among the model's operator codes, added if absent."""
    for index, code in enumerate(model.operatorCodes):
        if code.builtinCode == DEQUANTIZE:
            return index
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = DEQUANTIZE
    code.version = 1
    model.operatorCodes.append(code)
    return len(model.operatorCodes) - 1


def _has_data(buffer: Any) -> bool:
    return buffer.data is not None and len(buffer.data) > 0


def _restore(model: Any, graph: Any, index: int, halves: dict[int, int], code: int, schema: Any) -> Any:
    """A DEQUANTIZE that fills constant ``index`` from a float16 copy of its buffer (made once per buffer)."""
    original = graph.tensors[index]
    if original.buffer not in halves:
        half = schema.TensorT()
        half.shape, half.type, half.name = original.shape, FLOAT16, original.name + b"_fp16"
        values = np.asarray(model.buffers[original.buffer].data, dtype=np.uint8).view("<f4")
        buffer = schema.BufferT()
        buffer.data = np.frombuffer(values.astype("<f2").tobytes(), dtype=np.uint8)
        model.buffers.append(buffer)
        half.buffer = len(model.buffers) - 1
        graph.tensors.append(half)
        halves[original.buffer] = len(graph.tensors) - 1
    restore = schema.OperatorT()
    restore.opcodeIndex, restore.inputs, restore.outputs = code, [halves[original.buffer]], [index]
    return restore


def _sources() -> dict[str, Path]:
    return {part: default_model_path(part, "fp32") for part in PARTS}


def build_default(out_dir: Path) -> dict[str, Path]:
    """det, cls and rec at fp16 from the shipped fp32 files, into ``out_dir``."""
    missing = [str(p) for p in _sources().values() if not p.is_file()]
    if missing:
        raise DataMissing(f"tflite-fp16 recipe: the fp32 models are missing ({missing[0]}); restore models/ppocrv4-tflite from git")
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    return {part: cast_to_fp16(source, Path(out_dir) / output_name(part, "fp16")) for part, source in _sources().items()}


def inputs_key() -> dict[str, Any]:
    """What the cast depends on: recipe version, the fp32 files' sha256, the schema's and flatbuffers' versions."""
    from harness.system.fingerprint import cached_sha256
    from harness.system.software import package_versions

    sources = {part: cached_sha256(p) if p.is_file() else None for part, p in _sources().items()}
    return {"recipe_version": RECIPE_VERSION, "sources": sources, "versions": package_versions(("ai-edge-litert", "flatbuffers"))}
