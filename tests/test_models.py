"""The model manifest and `arbench models build`: pinned files verify, builds are cached by input hash,
idempotent, never replace shipped files with different bytes; corrupt models are one-line errors."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from harness.errors import ConfigError, DataMissing
from harness.models.manifest import ModelEntry, find_model, load_manifest
from harness.models.recipes import build as build_module
from harness.models.recipes.build import Recipe, build_models
from harness.models.verify import check_onnx_file, verify_model
from harness.system.fingerprint import sha256_file

REPO = Path(__file__).resolve().parent.parent
SHIPPED_INT8 = REPO / "models" / "ppocrv4-int8"


def test_every_pinned_model_present_here_matches_its_pins() -> None:
    pinned = [e for e in load_manifest() if e.sha256]
    assert {"ppocrv4-det-int8", "ppocrv4-rec-int8", "ppocrv4-det-fp32"} <= {e.id for e in pinned}
    for entry in pinned:
        assert len(entry.sha256) == len(entry.files) == len(entry.size_bytes), entry.id
        assert verify_model(entry), entry.id


def test_find_model_by_family_task_precision_and_backend() -> None:
    assert find_model("ppocrv4", "ocr.rec", "int8", backend="rapidocr").id == "ppocrv4-rec-int8"
    with pytest.raises(ConfigError, match=r"available: .*fp32.*int8"):
        find_model("ppocrv4", "ocr.rec", "int4", backend="rapidocr")


def test_a_wrong_size_or_sha256_is_reported_with_the_fix(tmp_path: Path) -> None:
    model = tmp_path / "m.onnx"
    model.write_bytes(b"abc")
    entry = ModelEntry("m", "ocr.rec", "rapidocr", "int8", (str(model),), "test", "MIT", recipe="r", sha256=("0" * 64,), size_bytes=(3,))
    with pytest.raises(DataMissing, match=r"sha256 .* pins 000000000000.*models build --force"):
        verify_model(entry)
    with pytest.raises(DataMissing, match="is 3 bytes, the manifest says 4"):
        verify_model(ModelEntry("m", "ocr.rec", "rapidocr", "int8", (str(model),), "test", "MIT", size_bytes=(4,)))
    model.unlink()
    with pytest.raises(DataMissing, match=r"missing; run `arbench models build`"):
        verify_model(entry)


def test_check_onnx_file_accepts_a_model_and_rejects_truncated_and_foreign_files(tmp_path: Path) -> None:
    real = SHIPPED_INT8 / "ch_PP-OCRv4_det_infer_int8.onnx"
    check_onnx_file(real)
    truncated = tmp_path / "t.onnx"
    truncated.write_bytes(real.read_bytes()[:100_000])
    with pytest.raises(DataMissing, match="corrupt or truncated"):
        check_onnx_file(truncated)
    foreign = tmp_path / "f.onnx"
    foreign.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    with pytest.raises(DataMissing, match="not"):
        check_onnx_file(foreign)


# A real recipe, small enough to run in a test: it writes two files from its inputs and counts its runs.
RUNS: list[Path] = []
CONTENT = {"a.bin": b"alpha", "b.bin": b"beta"}


def write_files(out_dir: Path) -> dict[str, Path]:
    RUNS.append(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, data in CONTENT.items():
        (out_dir / name).write_bytes(data)
    return {name: out_dir / name for name in CONTENT}


def inputs() -> dict[str, object]:
    return {"content": {k: v.decode() for k, v in CONTENT.items()}}


def _entries(target: Path, content: dict[str, bytes]) -> list[ModelEntry]:
    import hashlib

    return [
        ModelEntry(
            f"toy-{name}", "ocr.rec", "rapidocr", "int8", (str(target / name),), "built here", "MIT",
            recipe="toy", sha256=(hashlib.sha256(data).hexdigest(),), size_bytes=(len(data),),
        )
        for name, data in content.items()
    ]


@pytest.fixture
def toy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    RUNS.clear()
    monkeypatch.setitem(build_module.RECIPES, "toy", Recipe(f"{__name__}:write_files", f"{__name__}:inputs"))
    monkeypatch.setattr(build_module, "cache_dir", lambda: tmp_path / "cache")
    return tmp_path / "models"


def test_build_makes_missing_files_then_is_idempotent_and_reuses_its_cache(toy: Path) -> None:
    entries = _entries(toy, CONTENT)
    said: list[str] = []
    assert build_models(manifest=entries, say=said.append) == ["toy"]
    assert len(RUNS) == 1 and all(verify_model(e) for e in entries)
    assert build_models(manifest=entries, say=said.append) == []
    assert said[-1].startswith("up to date: toy")
    (toy / "a.bin").unlink()  # lost: copied back from the cache, not rebuilt
    assert build_models(manifest=entries, say=said.append) == ["toy"]
    assert len(RUNS) == 1 and any(line.startswith("cached: toy") for line in said)
    assert build_models(force=True, manifest=entries, say=said.append) == ["toy"]
    assert len(RUNS) == 2


def test_a_build_that_differs_from_the_pins_never_replaces_the_shipped_files(toy: Path) -> None:
    pinned = {"a.bin": b"shipped alpha", "b.bin": b"beta"}
    toy.mkdir()
    for name, data in pinned.items():
        (toy / name).write_bytes(data)
    (toy / "a.bin").write_bytes(b"corrupted")
    with pytest.raises(DataMissing, match=r"built different bytes than models/manifest.toml pins .*toy-a\.bin.*kept in"):
        build_models(manifest=_entries(toy, pinned), say=lambda _: None)
    assert (toy / "a.bin").read_bytes() == b"corrupted"  # left for the user to restore; nothing silently replaced


def needs_a_missing_tool(out_dir: Path) -> None:
    from harness.errors import BackendUnavailable

    raise BackendUnavailable("toy2 recipe: frobnicate missing; run `pip install frobnicate`")


def test_one_recipe_that_cannot_run_or_differs_does_not_stop_the_others(toy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(build_module.RECIPES, "toy2", Recipe(f"{__name__}:needs_a_missing_tool", f"{__name__}:inputs"))
    other = toy.parent / "other"
    skipped = [replace(e, id=f"{e.id}-2", recipe="toy2", files=(str(other / Path(e.files[0]).name),)) for e in _entries(other, CONTENT)]
    said: list[str] = []
    assert build_models(manifest=[*skipped, *_entries(toy, CONTENT)], say=said.append) == ["toy"]  # toy2 first, toy still built
    assert any(line.startswith("skipped: toy2") and "pip install frobnicate" in line for line in said)
    monkeypatch.setitem(build_module.RECIPES, "toy3", Recipe(f"{__name__}:write_files", f"{__name__}:inputs"))
    wrong = [replace(e, recipe="toy3") for e in _entries(toy.parent / "wrong", {"a.bin": b"other bytes"})]
    with pytest.raises(DataMissing, match="built different bytes"):
        build_models(manifest=[*wrong, *_entries(toy, CONTENT)], force=True, say=said.append)
    assert said[-1].startswith("in place: toy")  # the recipe after the failed one was still built


def test_an_unknown_recipe_is_a_config_error(tmp_path: Path) -> None:
    entry = ModelEntry("x", "ocr.rec", "rapidocr", "int8", (str(tmp_path / "x"),), "s", "MIT", recipe="nope")
    with pytest.raises(ConfigError, match="unknown recipe 'nope'"):
        build_models(manifest=[entry], say=lambda _: None)


def _arbench(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=300, check=False)


def _one_line_exit_2(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert fragment in lines[0], lines[0]


EXPERIMENT = """
[run]
warmup_frames = 0
min_frames = 1
max_frames = 1
[stages]
mt = false
overlay = false
[[sources]]
id = "s"
kind = "synthetic"
n = 1
[[ocr]]
id = "o"
backend = "rapidocr"
{ocr}
"""


def test_a_corrupt_model_file_named_by_path_is_one_line_exit_2(tmp_path: Path) -> None:
    broken = tmp_path / "rec.onnx"
    broken.write_bytes((SHIPPED_INT8 / "ch_PP-OCRv4_rec_infer_int8.onnx").read_bytes()[:500_000])
    experiment = tmp_path / "e.toml"
    experiment.write_text(EXPERIMENT.format(ocr=f'rec_model = "{broken}"'))
    _one_line_exit_2(_arbench("run", str(experiment), "--out", str(tmp_path / "out"), cwd=REPO), "corrupt or truncated")
    assert not (tmp_path / "out").exists()


def test_a_shipped_model_with_a_wrong_sha256_is_one_line_exit_2(tmp_path: Path) -> None:
    tree = tmp_path / "tree"  # a copy of the project, so the shipped file can be damaged
    shutil.copytree(REPO / "harness", tree / "harness", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "devices", tree / "devices")
    shutil.copytree(REPO / "models", tree / "models", ignore=shutil.ignore_patterns("__pycache__"))
    damaged = tree / "models" / "ppocrv4-int8" / "ch_PP-OCRv4_rec_infer_int8.onnx"
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte: same size, another sha256
    damaged.write_bytes(bytes(data))
    experiment = tmp_path / "e.toml"
    experiment.write_text(EXPERIMENT.format(ocr='precision = "int8"'))
    result = _arbench("run", str(experiment), "--out", str(tmp_path / "out"), cwd=tree)
    _one_line_exit_2(result, "model ppocrv4-rec-int8")
    pin = next(e.sha256[0] for e in load_manifest() if e.id == "ppocrv4-rec-int8")
    assert f"the manifest pins {pin[:12]}" in result.stderr and "models build --force" in result.stderr
    listing = _arbench("models", cwd=tree)
    assert any(line.startswith("CORRUPT") and "ppocrv4-rec-int8" in line for line in listing.stdout.splitlines())
    assert sha256_file(SHIPPED_INT8 / damaged.name) != sha256_file(damaged)
