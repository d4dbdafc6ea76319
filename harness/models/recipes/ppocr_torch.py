"""PP-OCRv4 det, cls and rec for PyTorch: the package's ONNX graphs written as JSON + safetensors.

    arbench models build            (recipe ppocr-torch, into models/ppocrv4-torch/, in about a second)

Nothing is approximated: every node keeps its ONNX op type, inputs, outputs and attributes, every
initializer and Constant its float32 (or integer) values, and ``harness.ocr.torch_graph`` runs them op
by op. The weights are not shipped (they are the package's): this recipe rewrites them, byte for byte
the pinned files wherever the same ``rapidocr-onnxruntime``, ``onnx`` and ``safetensors`` are installed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import DataMissing

__all__ = ["RECIPE_VERSION", "build_default", "convert", "inputs_key"]

RECIPE_VERSION = 1
PARTS = ("det", "cls", "rec")


def _attribute(attribute: Any) -> Any:
    from onnx import helper

    value = helper.get_attribute_value(attribute)
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, list | tuple):
        return [v.decode() if isinstance(v, bytes) else v for v in value]
    return value


def convert(source: Path, json_path: Path) -> Path:
    """Write ``source`` (an ONNX model) as ``json_path`` and the ``.safetensors`` of its constants beside it."""
    import onnx
    from onnx import numpy_helper
    from safetensors.numpy import save_file

    from harness.ocr.torch_graph import FORMAT, OPS

    model = onnx.load(str(source))
    graph = model.graph
    constants = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    nodes = []
    for node in graph.node:
        if node.op_type == "Constant":
            constants[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
            continue
        if node.op_type not in OPS:
            raise DataMissing(f"ppocr-torch recipe: {source.name} uses {node.op_type}, which harness.ocr.torch_graph does not run")
        nodes.append(
            {
                "op": node.op_type,
                "inputs": list(node.input),
                "outputs": list(node.output),
                "attrs": {a.name: _attribute(a) for a in node.attribute},
            }
        )
    described = {
        "format": FORMAT,
        "source": source.name,
        "opset": model.opset_import[0].version,
        "metadata": {p.key: p.value for p in model.metadata_props},  # the recognizer's character list lives here
        "inputs": [i.name for i in graph.input if i.name not in constants],
        "outputs": [o.name for o in graph.output],
        "nodes": nodes,
    }
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(described, sort_keys=True, separators=(",", ":")), encoding="utf-8")
    save_file({name: np.ascontiguousarray(value) for name, value in constants.items()}, str(json_path.with_suffix(".safetensors")))
    return json_path


def _sources() -> dict[str, Path]:
    from harness.models.manifest import find_model

    return {part: find_model("ppocrv4", f"ocr.{part}", "fp32", backend="rapidocr").paths()[0] for part in PARTS}


def build_default(out_dir: Path) -> dict[str, Path]:
    """det, cls and rec from the package's fp32 ONNX models, into ``out_dir``."""
    sources = _sources()
    missing = [str(p) for p in sources.values() if not p.is_file()]
    if missing:
        raise DataMissing(f"ppocr-torch recipe: {missing[0]} is missing; run `pip install rapidocr-onnxruntime`")
    return {part: convert(source, Path(out_dir) / f"ppocrv4_{part}.json") for part, source in sources.items()}


def inputs_key() -> dict[str, Any]:
    """What the files depend on: recipe version, the ONNX files' sha256, the onnx and safetensors versions."""
    from harness.system.fingerprint import cached_sha256
    from harness.system.software import package_versions

    sources = {part: cached_sha256(p) if p.is_file() else None for part, p in _sources().items()}
    return {"recipe_version": RECIPE_VERSION, "sources": sources, "versions": package_versions(("onnx", "safetensors", "numpy"))}
