"""Experiment files built from a few keyword arguments, for tests and for trying a backend quickly.

The default experiment is the harness alone: two synthetic scenes, the null OCR and MT, overlay off, a
short in-process-sized run. Each keyword replaces one section: a table for ``run``, ``stages``,
``energy``, ``offload``, ``experiment``; a list of tables for ``sources``, ``ocr``, ``mt``, ``ar``::

    path = write_experiment(tmp_path / "exp.toml", mt=[{"id": "hang", "backend": "faulty", "fault": "hang"}],
                            run={"warmup_frames": 1, "min_frames": 3})
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["NULL_MT", "NULL_OCR", "SYNTHETIC", "experiment_toml", "write_experiment"]

SYNTHETIC = {"id": "synth", "kind": "synthetic", "n": 2}
NULL_OCR = {"id": "null", "backend": "null"}
NULL_MT = {"id": "null", "backend": "null"}
DEFAULTS: dict[str, Any] = {"stages": {"overlay": False}, "sources": [SYNTHETIC], "ocr": [NULL_OCR], "mt": [NULL_MT]}


def experiment_toml(**sections: Any) -> str:
    """The TOML text of the default experiment with ``sections`` replaced (None drops a section)."""
    merged = {**DEFAULTS, **sections}
    lines: list[str] = []
    for name, value in merged.items():
        if value is None:
            continue
        if isinstance(value, Mapping):
            lines += [f"[{name}]", *_pairs(value), ""]
        else:
            for table in value:
                lines += [f"[[{name}]]", *_pairs(table), ""]
    return "\n".join(lines)


def write_experiment(path: Path, **sections: Any) -> Path:
    """Write ``experiment_toml(**sections)`` to ``path`` and return it."""
    path.write_text(experiment_toml(**sections), encoding="utf-8")
    return path


def _pairs(table: Mapping[str, Any]) -> list[str]:
    return [f"{key} = {_value(value)}" for key, value in table.items()]


def _value(value: Any) -> str:
    """A TOML value: strings, booleans, numbers and lists of them (JSON spells these as TOML does)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Sequence):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"no TOML value for {value!r}")
