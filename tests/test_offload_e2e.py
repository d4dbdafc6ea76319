"""End to end on the real backends: PP-OCRv4 and Apertium on both sides of the wire, every placement on
loopback through `arbench run`; the store holds bytes, privacy levels and offload spans."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import needs_apertium

pytest.importorskip("aiohttp")
REPO = Path(__file__).resolve().parent.parent

EXPERIMENT = """
[experiment]
name = "offload-e2e"
[run]
warmup_frames = 0
min_frames = 2
min_duration_s = 0.0
max_frames = 2
save_overlays = 0
isolate = false
[offload]
placements = ["local", "cloud", "det-local", "ocr-local"]
networks = ["loopback"]
server_config = "experiments/servers/offload.toml"
frame_quality = 80
crop_format = "jpeg"
[[sources]]
id = "synth"
kind = "synthetic"
seed = 7
n = 2
difficulty = "easy"
[[ocr]]
id = "ppocr"
backend = "rapidocr"
[[mt]]
id = "apertium"
backend = "apertium"
pair = "eng-spa"
"""


@pytest.mark.slow
@needs_apertium
def test_every_placement_with_real_models_on_loopback(tmp_path: Path) -> None:
    (tmp_path / "exp.toml").write_text(EXPERIMENT, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", str(tmp_path / "exp.toml"), "--device", "laptop", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    run_dir = Path(done.stdout.strip().splitlines()[-1])
    records = [json.loads(line) for line in (run_dir / "frames.jsonl").read_text().splitlines()]
    by_config: dict[str, list[dict]] = {}
    for record in records:
        assert record["ok"], record["error"]
        by_config.setdefault(record["config_id"], []).append(record)
    local = by_config.pop("synth/ppocr/apertium")
    assert all(r["bytes_up"] == 0 and "offload" not in r for r in local)
    levels = {}
    for config_id, frames in by_config.items():
        placement = config_id.split("+")[1].split("@")[0]
        levels[placement] = frames[0]["offload"]["privacy_level"]
        for frame, reference in zip(frames, local, strict=True):
            assert frame["bytes_up"] > frame["offload"]["payload_up_bytes"] > 0 and frame["bytes_down"] > 0
            assert frame["targets"] == reference["targets"], config_id  # the same models give the same translation
    assert levels == {"cloud": "all-pixels", "det-local": "text-pixels", "ocr-local": "text"}
    summary = pd.read_csv(run_dir / "summary.csv")
    assert {"offload", "offload.roundtrip"} <= set(summary["stage"])
    manifest = json.loads((run_dir / "manifest.json").read_text())
    placements = {c["placement"]["placement"] for c in manifest["experiment"]["resolved"]["configurations"].values()}
    assert placements == {"local", "cloud", "det-local", "ocr-local"}
