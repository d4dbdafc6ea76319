"""Pairs of configurations that differ only in a model's numeric precision (quantized vs full).

Two configurations pair when they run on the same device and source, and their OCR and MT components
have the same backends and options except a precision option (``precision``, ``compute_type``) of one
component. Each component's precision is read from the manifest, where the run recorded it (schema 2:
``resolved.configurations[id][kind].precision``, as the backend reports its options). Schema 1 recorded
none: its precision is read from those option names, and for runs without resolved options from the ids
(``ort-fp32`` and ``ort-int8`` on the same source pair).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harness.report.columns import FULL_PRECISIONS, PRECISION_OPTIONS
from harness.report.dataset import Series

__all__ = ["Pair", "precision_pairs", "variant"]

PRECISION_TOKEN = re.compile(
    r"(?<![a-z0-9])(fp32|fp16|bf16|int8|int16|int4|float32|float16|bfloat16|int8_float32|int8_float16|q8|q4)(?![a-z0-9])"
)
COMPONENTS = ("ocr", "mt")


@dataclass(frozen=True)
class Pair:
    """A quantized configuration and its full-precision twin; ``stage`` is the span of the quantized component."""

    full: Series
    quant: Series
    stage: str
    precision: str

    @property
    def label(self) -> str:
        """The quantized configuration and what it is compared with, e.g. "synth/ort-int8 vs fp32"."""
        return f"{self.quant.label} vs {self.full_precision}"

    @property
    def full_precision(self) -> str:
        """The precision of the full-precision twin."""
        return variant(self.full)[1].get(self.stage, "full")


def variant(series: Series) -> tuple[str, dict[str, str]]:
    """A key equal for configurations that differ only in precision, and the precision per stage."""
    resolved = series.resolved()
    recorded = series.run.schema_version >= 2
    if recorded or (resolved and any(key in resolved.get(kind, {}).get("options", {}) for kind in COMPONENTS for key in PRECISION_OPTIONS)):
        return _from_manifest(series, resolved, recorded)
    parts = series.config_id.split("/")
    precisions = {kind: m.group(1) for kind, part in zip(COMPONENTS, parts[1:], strict=False) if (m := PRECISION_TOKEN.search(part))}
    return series.device + "|" + "/".join(PRECISION_TOKEN.sub("*", p) for p in parts), precisions


def _from_manifest(series: Series, resolved: dict[str, Any], recorded: bool) -> tuple[str, dict[str, str]]:
    """The variant key and the precision per stage, from the manifest's resolved components.

    Key: device, source, and each component's backend and options but its precision options. Precision: as
    recorded (schema 2), else the value of its precision option (schema 1; the last one named, if two are).
    """
    key: dict[str, Any] = {"device": series.device, "source": resolved.get("source", {}).get("id")}
    precisions = {}
    for kind in COMPONENTS:
        component = resolved.get(kind, {})
        given = component.get("options", {})
        named = [given[name] for name in PRECISION_OPTIONS if name in given]
        precision = component.get("precision") if recorded else (named[-1] if named else None)
        if precision is not None:
            precisions[kind] = str(precision)
        key[kind] = [component.get("backend"), {name: value for name, value in given.items() if name not in PRECISION_OPTIONS}]
    return json.dumps(key, sort_keys=True, default=str), precisions


def precision_pairs(series: Sequence[Series]) -> list[Pair]:
    """Every (full, quantized) pair: in each group of variants, the all-full-precision one against each other."""
    groups: dict[str, list[tuple[Series, dict[str, str]]]] = defaultdict(list)
    for one in series:
        key, precisions = variant(one)
        groups[key].append((one, precisions))
    pairs = []
    for members in groups.values():
        fulls = [(s, p) for s, p in members if p and all(v in FULL_PRECISIONS for v in p.values())]
        if not fulls:
            continue
        full, full_precisions = fulls[0]
        for one, precisions in members:
            changed = [kind for kind in COMPONENTS if precisions.get(kind, full_precisions.get(kind)) != full_precisions.get(kind)]
            if len(changed) == 1:
                pairs.append(Pair(full, one, changed[0], precisions[changed[0]]))
    return pairs
