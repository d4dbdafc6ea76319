"""Experiment and device validation: unknown keys, backends and devices are one-line ConfigErrors."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.devices import DEVICE_NAMES, load_device, resolve_device
from harness.errors import ConfigError
from harness.mt.apertium import ApertiumOptions
from harness.ocr.rapidocr import RapidOcrOptions
from harness.run.experiment import RunSettings, load_experiment

REPO = Path(__file__).resolve().parent.parent

MINIMAL = """
[[sources]]
id = "s"
kind = "synthetic"
n = 2

[[ocr]]
id = "o"
backend = "rapidocr"
threads = 1

[[mt]]
id = "m"
backend = "apertium"
"""


def test_minimal_experiment_builds_matrix(write_experiment) -> None:
    experiment = load_experiment(write_experiment(MINIMAL))
    configs = experiment.configurations()
    assert [c.config_id for c in configs] == ["s/o/m"]
    assert configs[0].ocr.options == RapidOcrOptions(threads=1)
    assert configs[0].mt.options == ApertiumOptions()
    assert experiment.run == RunSettings()


def test_matrix_is_sources_times_ocr_times_mt(write_experiment) -> None:
    text = MINIMAL + '\n[[sources]]\nid = "s2"\nkind = "synthetic"\n\n[[mt]]\nid = "m2"\nbackend = "null"\n'
    ids = [c.config_id for c in load_experiment(write_experiment(text)).configurations()]
    assert ids == ["s/o/m", "s/o/m2", "s2/o/m", "s2/o/m2"]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("threads = 1", "thread = 1"), "unknown key 'thread'; valid keys: cls_model, cls_precision, det_limit_side_len"),
        (
            ('backend = "rapidocr"', 'backend = "paddle"'),
            "unknown ocr 'paddle'; valid: easyocr, litert, null, peer, ppocr-torch, rapidocr, tesseract",
        ),
        (('kind = "synthetic"', 'kind = "webcam"'), "unknown source 'webcam'; valid: camera, ic15_words"),
        (("n = 2", 'n = "two"'), "expected int, got 'two'"),
        (("n = 2", 'difficulty = "insane"'), "insane"),
    ],
)
def test_bad_entries_name_the_problem(write_experiment, edit: tuple[str, str], message: str) -> None:
    path = write_experiment(MINIMAL.replace(*edit))
    with pytest.raises(ConfigError) as caught:
        load_experiment(path)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_unknown_section_and_run_key(write_experiment) -> None:
    with pytest.raises(ConfigError, match=r"unknown section \[runs\]"):
        load_experiment(write_experiment("[runs]\nmin_frames = 3\n" + MINIMAL))
    with pytest.raises(ConfigError, match="unknown key 'min_frame'"):
        load_experiment(write_experiment("[run]\nmin_frame = 3\n" + MINIMAL))
    with pytest.raises(ConfigError, match="max_frames >= min_frames"):
        load_experiment(write_experiment("[run]\nmin_frames = 30\nmax_frames = 3\n" + MINIMAL))
    with pytest.raises(ConfigError, match="save_overlays must be >= 0"):
        load_experiment(write_experiment("[run]\nsave_overlays = -1\n" + MINIMAL))


def test_duplicate_ids_and_missing_sources(write_experiment) -> None:
    with pytest.raises(ConfigError, match="duplicate"):
        load_experiment(write_experiment(MINIMAL + '\n[[mt]]\nid = "m"\nbackend = "null"\n'))
    with pytest.raises(ConfigError, match=r"at least one \[\[sources\]\]"):
        load_experiment(write_experiment('[[ocr]]\nid = "o"\nbackend = "null"\n'))


def test_invalid_toml_and_missing_file(write_experiment, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_experiment(write_experiment("[[sources]\n"))
    with pytest.raises(ConfigError, match="no such file"):
        load_experiment(tmp_path / "absent.toml")


def test_shipped_experiments_validate() -> None:
    for path in sorted((REPO / "experiments").glob("*.toml")):
        assert load_experiment(path).configurations(), path


def test_shipped_devices_load() -> None:
    for name in DEVICE_NAMES:
        profile = load_device(name)
        assert profile.name == name
    assert load_device("jetson").threads == 6
    assert "ina3221" in load_device("jetson").sensors


def test_unknown_device_lists_valid_ones() -> None:
    with pytest.raises(ConfigError, match="unknown device 'pi'; valid: auto, gpu-server, jetson, jetson-nano, laptop, rpi4, rpi5"):
        resolve_device("pi")


def test_device_with_unknown_sensor(tmp_path: Path) -> None:
    (tmp_path / "odd.toml").write_text('name = "odd"\nsensors = ["multimeter"]\n')
    with pytest.raises(ConfigError, match="unknown sensor 'multimeter'"):
        load_device("odd", tmp_path)


@pytest.mark.faults
def test_an_experiment_that_is_not_utf8_is_one_line(tmp_path) -> None:
    from harness.cli import main

    path = tmp_path / "latin1.toml"
    path.write_bytes('[experiment]\nname = "café"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match=r"latin1.toml: not UTF-8 \(byte \d+\); save the file as UTF-8"):
        load_experiment(path)
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 2
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("bad", ["x" * 300, "a\\u0000b", "", "../up", ".hidden"])
def test_ids_that_cannot_name_files_are_refused_before_anything_runs(write_experiment, bad: str) -> None:
    text = MINIMAL.replace('id = "s"', f'id = "{bad}"') if 'id = "s"' in MINIMAL else None
    assert text is not None and text != MINIMAL
    with pytest.raises(ConfigError, match="cannot name files: use 1-64 letters"):
        load_experiment(write_experiment(text))
