"""Loading a run directory into pandas DataFrames. Reports and comparisons read runs only through here."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from harness.errors import DataMissing, UserError
from harness.store.schema import FRAMES, MANIFEST, SUMMARY, VERSIONS

__all__ = ["Run", "current_records", "load_run", "read_frames", "superseded_keys"]


@dataclass
class Run:
    """One stored run.

    ``frames``: one row per frame record (spans and outputs as Python objects); ``spans``: one row per
    span with ``duration_ms``; ``summary``: summary.csv if written (None for a run that did not finish);
    ``bad_lines``: frames.jsonl lines that were not valid JSON (a run killed mid-write leaves at most one).
    """

    path: Path
    manifest: dict[str, Any]
    frames: pd.DataFrame
    spans: pd.DataFrame
    summary: pd.DataFrame | None
    bad_lines: int

    @property
    def schema_version(self) -> int:
        """The schema the run was written with (``harness.store.schema.VERSIONS``)."""
        return int(self.manifest["schema_version"])

    @property
    def complete(self) -> bool:
        """True when the run finished and wrote its summary."""
        return self.manifest.get("status") == "complete" and self.summary is not None


RECORD_KEYS = ("config_id", "seq", "warmup", "ok", "spans")  # what every reader of a frame record relies on


def read_frames(path: Path) -> tuple[list[dict[str, Any]], int]:
    """Frame records from a frames.jsonl, skipping (and counting) lines that are not frame records.

    A line is skipped when it is not UTF-8, not whole JSON (a run killed mid-write leaves at most one
    such), or not an object with the fields every record has: damage never stops a reader.
    """
    records, bad = [], 0
    if not path.is_file():
        return records, bad
    with path.open("rb") as handle:
        for raw in handle:
            if not raw.strip():
                continue
            try:
                record = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
                bad += 1
                continue
            if isinstance(record, dict) and all(key in record for key in RECORD_KEYS) and isinstance(record["spans"], list):
                records.append(record)
            else:
                bad += 1
    return records, bad


def _spans_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    rows = [
        {
            "config_id": r["config_id"],
            "seq": r["seq"],
            "round": r.get("round", 0),
            "warmup": r["warmup"],
            "ok": r["ok"],
            "name": s["name"],
            "start_ns": s["start_ns"],
            "end_ns": s["end_ns"],
            "duration_ms": (s["end_ns"] - s["start_ns"]) / 1e6,
        }
        for r in records
        for s in r.get("spans", [])
    ]
    columns = ["config_id", "seq", "round", "warmup", "ok", "name", "start_ns", "end_ns", "duration_ms"]
    return pd.DataFrame(rows, columns=columns)


def load_run(run_dir: Path, read_summary: bool = True) -> Run:
    """Load a run; a directory without a manifest, or with a damaged one or a damaged summary.csv, is one line.

    ``read_summary`` off leaves summary.csv unread (``arbench report --rebuild`` writes it anew from the frames).
    """
    manifest_file = run_dir / MANIFEST
    if not manifest_file.is_file():
        raise DataMissing(f"{run_dir} is not an arbench run (no {MANIFEST}); pass the directory `arbench run` printed")
    try:
        manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise DataMissing(f"{manifest_file} is damaged ({type(exc).__name__}: {str(exc)[:80]}); the run cannot be read") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("configurations", []), list):
        raise DataMissing(f"{manifest_file} is damaged (not a run manifest: a JSON {type(manifest).__name__}); the run cannot be read")
    version = manifest.get("schema_version")
    if version not in VERSIONS:
        readable = ", ".join(str(v) for v in VERSIONS)
        raise UserError(
            f"{run_dir}: schema_version {version} is not supported by this arbench (it reads {readable}); use the one that wrote it"
        )
    records, bad = read_frames(run_dir / FRAMES)
    records = current_records(records, manifest)
    summary_file = run_dir / SUMMARY
    summary = _read_summary(summary_file) if read_summary and summary_file.is_file() else None
    return Run(run_dir, manifest, pd.DataFrame(records), _spans_frame(records), summary, bad)


def superseded_keys(manifest: dict[str, Any]) -> set[tuple[str, int, int]]:
    """(config_id, round, attempt) of the frame records a resumed run measured again (``manifest["superseded"]``)."""
    entries = manifest.get("superseded") or []
    return {(e.get("config_id"), int(e.get("round", 0)), int(e.get("attempt", 0))) for e in entries if isinstance(e, dict)}


def current_records(records: list[dict[str, Any]], manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The frame records statistics use: those of superseded (configuration, round, attempt)s left out."""
    gone = superseded_keys(manifest)
    if not gone:
        return records
    return [r for r in records if (r["config_id"], int(r.get("round", 0)), int(r.get("attempt", 0))) not in gone]


def _read_summary(path: Path) -> pd.DataFrame:
    try:
        summary = pd.read_csv(path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataMissing(
            f"{path} is damaged ({type(exc).__name__}); rebuild it from frames.jsonl: arbench report {path.parent} --rebuild"
        ) from None
    if not {"config_id", "stage"} <= set(summary.columns):
        raise DataMissing(f"{path} is damaged (no config_id/stage columns); rebuild it: arbench report {path.parent} --rebuild")
    return summary
