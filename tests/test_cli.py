"""The command line: user errors are one line on stderr and exit code 2; info commands work."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness import __version__

REPO = Path(__file__).resolve().parent.parent


def arbench(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=120, check=False)


def assert_user_error(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert fragment in lines[0]


def test_version() -> None:
    result = arbench("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"arbench {__version__}"


def test_help_lists_commands() -> None:
    result = arbench("--help")
    for command in ("run", "report", "devices", "models", "data"):
        assert command in result.stdout


def test_missing_experiment(tmp_path: Path) -> None:
    assert_user_error(arbench("run", str(tmp_path / "nope.toml"), "--out", str(tmp_path)), "no such file")


def test_unknown_device_leaves_results_untouched(tmp_path: Path) -> None:
    out = tmp_path / "results"
    result = arbench("run", "experiments/smoke.toml", "--device", "toaster", "--out", str(out))
    assert_user_error(result, "unknown device 'toaster'; valid: auto, gpu-server, jetson")
    assert not out.exists()


def test_bad_experiment_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text((REPO / "experiments/smoke.toml").read_text().replace("min_frames", "min_framez"))
    assert_user_error(arbench("run", str(bad), "--out", str(tmp_path)), "unknown key 'min_framez'")


def test_report_on_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    assert_user_error(arbench("report", str(tmp_path)), "is not an arbench run")


def test_devices_marks_the_detected_one() -> None:
    result = arbench("devices")
    assert result.returncode == 0
    assert "jetson-nano" in result.stdout and "rpi5" in result.stdout
    assert "DEVICE=auto picks laptop" in result.stdout


def test_models_lists_the_packaged_ppocr_models() -> None:
    result = arbench("models")
    assert result.returncode == 0
    assert any(line.startswith("present") and "ppocrv4-det" in line for line in result.stdout.splitlines())


@pytest.mark.parametrize("difficulty", ["easy"])
def test_data_synth_writes_images_and_truth(tmp_path: Path, difficulty: str) -> None:
    result = arbench("data", "synth", "--seed", "3", "--n", "2", "--difficulty", difficulty, "--out", str(tmp_path / "s"))
    assert result.returncode == 0, result.stderr
    assert len(list((tmp_path / "s").glob("*.png"))) == 2
    assert len((tmp_path / "s" / "ground_truth.jsonl").read_text().splitlines()) == 2
    assert_user_error(arbench("data", "synth", "--difficulty", "insane", "--out", str(tmp_path / "t")), "insane")


def test_data_video_writes_frames_truth_and_avi(tmp_path: Path) -> None:
    out = tmp_path / "v"
    result = arbench("data", "video", "--motion", "shake", "--fps", "5", "--duration", "1", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()) == out / "video.avi"
    assert len(list((out / "frames").glob("*.png"))) == 5
    assert len((out / "ground_truth.jsonl").read_text().splitlines()) == 5
    assert_user_error(arbench("data", "video", "--motion", "fly", "--out", str(out)), "fly")


def test_preflight_rejects_an_uninstalled_apertium_pair_and_text_sources_with_ocr(tmp_path: Path) -> None:
    bad_pair = tmp_path / "pair.toml"
    bad_pair.write_text('[[sources]]\nid = "s"\nkind = "synthetic"\n[[mt]]\nid = "m"\nbackend = "apertium"\npair = "eng-xxx"\n')
    assert_user_error(arbench("run", str(bad_pair), "--out", str(tmp_path / "o")), "no mode 'eng-xxx'")
    text_with_ocr = tmp_path / "text.toml"
    text_with_ocr.write_text('[[sources]]\nid = "t"\nkind = "textset"\ndataset = "tatoeba"\n')
    assert_user_error(arbench("run", str(text_with_ocr), "--out", str(tmp_path / "o")), "gives text, not images")
    assert not (tmp_path / "o").exists()


def test_unreadable_paths_are_user_errors(tmp_path: Path) -> None:
    assert_user_error(arbench("run", str(REPO / "experiments")), "experiments")
    assert_user_error(arbench("data", "synth", "--n", "1", "--out", "/proc/arbench-cannot-write"), "arbench-cannot-write")
