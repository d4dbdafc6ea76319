"""Everything that is a configuration error is one line before a run directory exists; models are hashed once per run."""

from __future__ import annotations

import collections
import json
from pathlib import Path

import pytest

from harness.devices import load_device
from harness.errors import ConfigError, DataMissing
from harness.registry import PLUGINS
from harness.run.experiment import load_experiment
from harness.run.orchestrate import run_experiment
from harness.run.preflight import preflight
from harness.sources.base import endless
from harness.testing.experiments import SYNTHETIC, write_experiment

LAPTOP = load_device("laptop")


@pytest.mark.parametrize(
    ("sections", "error"),
    [
        ({"sources": [{"id": "a/b", "kind": "synthetic"}]}, "id 'a/b' cannot name files"),
        ({"sources": [SYNTHETIC | {"id": "x" * 300}]}, "cannot name files: use 1-64 letters"),
        ({"mt": [{"id": ".hidden", "backend": "null"}]}, "id '.hidden' cannot name files"),
        ({"sources": [{"id": "cam", "kind": "camera"}], "run": {"scenario": "camera-paced"}}, "a live source paces itself"),
        ({"run": {"scenario": "camera-paced"}}, "camera-paced needs a frame rate: set [run] source_fps"),
        ({"sources": [{"id": "cam", "kind": "camera"}], "run": {"all_frames": True}}, "set loop = false on source 'cam'"),
        ({"sources": [{"id": "t", "kind": "textset", "dataset": "tatoeba"}]}, "gives text, not images"),
        ({"ar": [{"id": "every", "policy": "every-n"}], "offload": {"placements": ["cloud"]}}, "drop [offload] from AR experiments"),
    ],
)
@pytest.mark.faults
def test_what_the_files_say_is_checked_when_the_experiment_loads(tmp_path: Path, sections: dict, error: str) -> None:
    with pytest.raises(ConfigError, match=error.replace("[", r"\[").replace("(", r"\(")):
        load_experiment(write_experiment(tmp_path / "exp.toml", **sections))


@pytest.mark.faults
def test_missing_files_are_found_by_preflight_before_any_run_directory(tmp_path: Path) -> None:
    for source, error in (
        ({"id": "v", "kind": "video", "path": str(tmp_path / "none.mp4")}, "video file not found"),
        ({"id": "i", "kind": "images", "path": str(tmp_path / "nowhere")}, "image folder not found"),
        ({"id": "c", "kind": "icdar2015", "root": str(tmp_path / "nowhere")}, "ICDAR 2015 images not found"),
    ):
        experiment = load_experiment(write_experiment(tmp_path / "exp.toml", sources=[source]))
        with pytest.raises(DataMissing, match=error):
            preflight(experiment, LAPTOP)


@pytest.mark.faults
def test_an_optional_source_without_its_data_is_skipped_with_the_reason(tmp_path: Path) -> None:
    photos = {"id": "photos", "kind": "icdar2015", "root": str(tmp_path / "nowhere"), "optional": True}
    experiment = preflight(load_experiment(write_experiment(tmp_path / "exp.toml", sources=[photos, SYNTHETIC])), LAPTOP)
    assert [s.id for s in experiment.sources] == ["synth"]
    assert experiment.skipped[0][0] == "photos" and "ICDAR 2015 images not found" in experiment.skipped[0][1]
    with pytest.raises(DataMissing, match="no source of the experiment is available here: ICDAR 2015 images not found"):
        preflight(load_experiment(write_experiment(tmp_path / "only.toml", sources=[photos])), LAPTOP)


def test_model_files_named_by_path_are_read_from_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.models.manifest import model_root
    from harness.models.resolve import resolve_refs
    from harness.ocr.rapidocr import RapidOcrOptions, model_refs

    (tmp_path / "det.onnx").write_bytes((model_root("rapidocr") / "ch_PP-OCRv4_det_infer.onnx").read_bytes())
    monkeypatch.chdir(tmp_path)
    resolved = resolve_refs(model_refs(RapidOcrOptions(det_model="det.onnx")), "ocr test")
    assert resolved["det"].path == tmp_path / "det.onnx" and resolved["det"].entry is None
    assert resolved["rec"].entry == "ppocrv4-rec-fp32"


def test_source_kinds_say_what_they_are() -> None:
    kinds = {name: plugin.factory_class() for name, plugin in PLUGINS["source"].items()}
    assert (kinds["camera"].live, kinds["camera"].rewindable) == (True, False)
    assert {name for name, kind in kinds.items() if kind.timed} == {"camera", "video", "synthvideo"}
    assert kinds["textset"].modality == "text"
    recorded = [k for name, k in kinds.items() if name not in ("camera", "textset")]
    assert all(not k.live and k.rewindable and k.modality == "image" for k in recorded)
    options = PLUGINS["source"]["synthetic"].options_class()
    assert endless(options(loop=True), kinds["synthetic"]) and not endless(options(loop=False), kinds["synthetic"])


@pytest.mark.slow
def test_models_are_resolved_once_in_preflight_and_each_file_hashed_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.system import fingerprint

    hashed: collections.Counter[str] = collections.Counter()
    real = fingerprint.sha256_file

    def counting(path: Path, *args: object) -> str:
        hashed[Path(path).name] += 1
        return real(path, *args)

    monkeypatch.setattr(fingerprint, "sha256_file", counting)
    monkeypatch.setattr(fingerprint, "_cache", {})
    ocr = [{"id": "ppocr", "backend": "rapidocr", "threads": 1}]
    run = {"warmup_frames": 1, "min_frames": 2, "min_duration_s": 0.0, "isolate": False}
    experiment = preflight(load_experiment(write_experiment(tmp_path / "exp.toml", ocr=ocr, mt=None, run=run)), LAPTOP)
    resolved = experiment.ocr[0].models
    assert {part: model.entry for part, model in resolved.items()} == {
        "det": "ppocrv4-det-fp32",
        "cls": "ppocrv4-cls-fp32",
        "rec": "ppocrv4-rec-fp32",
    }
    run_dir = run_experiment(experiment, LAPTOP, tmp_path / "out")
    models = {Path(p).name for p in ("det", "cls", "rec") for p in [resolved[p].path]}
    assert all(hashed[name] == 1 for name in models), hashed  # preflight's hashes serve the worker and the manifest
    manifest = json.loads((run_dir / "manifest.json").read_text())
    recorded = {Path(m["path"]).name: m["sha256"] for m in manifest["environment"]["models"]}
    assert all(recorded[Path(m.path).name] == m.files[0]["sha256"] for m in resolved.values())
