"""Resuming a killed or interrupted run: what it may continue with, and what it measures again.

A run records, besides its merged outcomes, one outcome per configuration and round that finished
(``round_outcomes``, with the attempt that measured it) and one entry per invocation (``invocations``:
start, end, how it ended, what was forced). ``arbench run --resume RUN`` keeps every finished
(configuration, round) and measures the others from their start; frame records of a (configuration,
round) that did not finish stay in frames.jsonl, are listed in ``superseded`` and are left out of every
statistic. Frame records of a resumed invocation carry ``attempt`` (the invocation's index).

A run resumes only with what produced its frames: the same code commit (and a clean tree if it was
clean), the same experiment file, the same model files (the models manifest's pins and every file the
experiment names) and the same detected device. ``--force`` resumes anyway and records what differed.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import DataMissing, UserError
from harness.paths import project_root
from harness.run.outcome import Outcome, merge_rounds
from harness.store.reader import read_frames, superseded_keys
from harness.store.schema import FRAMES, MANIFEST
from harness.system.fingerprint import sha256_file

__all__ = ["Resume", "prepare_resume", "read_resumable", "resume_key"]

RESUMABLE = ("running", "interrupted", "crashed")  # a complete run has nothing left to measure


def _named_files(value: Any) -> list[Path]:
    """Files the experiment table names (model paths and the like), found by walking its values."""
    if isinstance(value, dict):
        return [p for v in value.values() for p in _named_files(v)]
    if isinstance(value, list):
        return [p for v in value for p in _named_files(v)]
    if isinstance(value, str) and ("/" in value or value.endswith((".onnx", ".tflite", ".bin", ".model"))) and len(value) < 4096:
        path = Path(value)
        return [path] if path.is_file() else []
    return []


def resume_key(experiment_path: Path, raw: dict[str, Any], detected_device: str) -> dict[str, Any]:
    """What a resumed invocation must share with the first: commit, experiment file, model files, device."""
    from harness.system.software import git_state, harness_repo_dir

    git = git_state(harness_repo_dir())
    pins = project_root() / "models" / "manifest.toml"
    files = {str(path): sha256_file(path) for path in sorted(set(_named_files(raw)))}
    return {
        "git_commit": git["commit"],
        "git_dirty": git["dirty"],
        "experiment_sha256": sha256_file(experiment_path),
        "models_manifest_sha256": sha256_file(pins) if pins.is_file() else None,
        "named_files_sha256": files,
        "device_detected": detected_device,
    }


def _differences(before: dict[str, Any], now: dict[str, Any]) -> list[str]:
    labels = {
        "git_commit": "code commit",
        "git_dirty": "uncommitted changes",
        "experiment_sha256": "experiment file",
        "models_manifest_sha256": "models/manifest.toml (model pins)",
        "named_files_sha256": "model files the experiment names",
        "device_detected": "detected device",
    }
    return [f"{label} ({before.get(key)!s:.40} → {now.get(key)!s:.40})" for key, label in labels.items() if before.get(key) != now.get(key)]


@dataclass
class Resume:
    """A run to continue: its folder and manifest, outcomes rebuilt from finished rounds, what to supersede."""

    run_dir: Path
    manifest: dict[str, Any]
    outcomes: list[Outcome]
    superseded: list[dict[str, Any]]
    forced: list[str]


def _merged(config_id: str, rounds: dict[str, dict[str, Any]]) -> Outcome:
    """One configuration's outcome over its finished rounds (pending where none finished)."""
    merged: Outcome | None = None
    for key in sorted(rounds, key=int):
        fields = {k: v for k, v in rounds[key].items() if k in {f.name for f in dataclasses.fields(Outcome)}}
        now = Outcome(**fields)
        merged = now if merged is None else merge_rounds(merged, now)
    return merged or Outcome(config_id)


def read_resumable(run_dir: Path) -> dict[str, Any]:
    """The manifest of a run that can be resumed (read once: it names the experiment and device too); else a one-line error."""
    manifest_file = run_dir / MANIFEST
    try:
        manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataMissing(f"{run_dir} is not an arbench run (no {MANIFEST}); pass the directory `arbench run` printed") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataMissing(f"{manifest_file} is damaged ({type(exc).__name__}); the run cannot be resumed") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("experiment"), dict) or not isinstance(manifest.get("device"), dict):
        raise DataMissing(f"{manifest_file} is damaged (not a run manifest); the run cannot be resumed")
    if "round_outcomes" not in manifest or "resume_key" not in manifest:
        raise UserError(f"{run_dir} was written by an arbench without --resume (no round_outcomes in its manifest); run it again")
    if manifest.get("status") not in RESUMABLE:
        raise UserError(f"{run_dir} is {manifest.get('status')!r}: nothing to resume (only a killed, interrupted or crashed run resumes)")
    return manifest


def prepare_resume(run_dir: Path, manifest: dict[str, Any], config_ids: list[str], key_now: dict[str, Any], force: bool) -> Resume:
    """Check that the run (``read_resumable``'s manifest) can go on here and now; raises a one-line ``UserError`` where not."""
    differs = _differences(manifest["resume_key"], key_now)
    if differs and not force:
        raise UserError(f"cannot resume {run_dir}: changed since it started: {'; '.join(differs)}; add --force to resume anyway (recorded)")
    known = list(manifest["experiment"]["resolved"]["configurations"])
    if known != config_ids:
        raise UserError(
            f"cannot resume {run_dir}: the experiment's configurations differ from the run's ({len(known)} vs {len(config_ids)})"
        )
    finished: dict[str, dict[str, dict[str, Any]]] = manifest["round_outcomes"]
    records, _ = read_frames(run_dir / FRAMES)
    gone = superseded_keys(manifest)
    counts = Counter(
        (r["config_id"], int(r.get("round", 0)), int(r.get("attempt", 0)))
        for r in records
        if str(int(r.get("round", 0))) not in finished.get(r["config_id"], {})
    )
    superseded = [
        {"config_id": c, "round": rnd, "attempt": att, "frame_records": n, "why": "its round did not finish; measured again"}
        for (c, rnd, att), n in sorted(counts.items())
        if (c, rnd, att) not in gone
    ]
    outcomes = [_merged(c, finished.get(c, {})) for c in config_ids]
    return Resume(run_dir, manifest, outcomes, superseded, differs if force else [])
