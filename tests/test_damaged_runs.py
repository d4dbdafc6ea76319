"""Damaged run folders: every reader says what is wrong in one line (exit 2), or skips and counts bad lines."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.cli import main
from harness.store.reader import load_run

pytestmark = pytest.mark.faults

RUNS = Path(__file__).parent / "fixtures" / "runs"


def damaged(tmp_path: Path, name: str, content: bytes) -> Path:
    run = tmp_path / "run"
    shutil.copytree(RUNS / "smoke", run)
    (run / name).write_bytes(content)
    return run


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("manifest.json", b'{"schema_version": 2, "run_id": "x", "configu', "manifest.json is damaged (JSONDecodeError"),
        ("manifest.json", b"[1, 2, 3]", "manifest.json is damaged (not a run manifest: a JSON list)"),
        ("summary.csv", b"", "summary.csv is damaged (EmptyDataError); rebuild it from frames.jsonl: arbench report"),
    ],
)
def test_a_damaged_manifest_or_summary_is_one_line_in_every_reader(tmp_path, capsys, name: str, content: bytes, message: str) -> None:
    run = damaged(tmp_path, name, content)
    for argv in (["report", str(run)], ["compare", str(run), str(RUNS / "smoke")], ["figures", str(run), "--out", str(tmp_path / "f")]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], (argv, err)


def test_report_rebuilds_a_damaged_summary_from_the_frames(tmp_path, capsys) -> None:
    original = load_run(RUNS / "smoke").summary
    run = damaged(tmp_path, "summary.csv", b"")
    assert main(["report", str(run), "--rebuild"]) == 0
    rebuilt = load_run(run).summary
    assert rebuilt is not None and list(rebuilt["stage"]) == list(original["stage"])
    assert rebuilt["p50_ms"].round(3).tolist() == original["p50_ms"].round(3).tolist()


def test_bad_frame_lines_are_skipped_and_counted_on_a_complete_run(tmp_path, capsys) -> None:
    run = tmp_path / "run"
    shutil.copytree(RUNS / "smoke", run)
    good = (run / "frames.jsonl").read_bytes()
    (run / "frames.jsonl").write_bytes(good + b'\xff\xfe not utf-8\n[1, 2, 3]\n{"config_id": "x"}\n{"trunc')
    loaded = load_run(run)
    assert loaded.bad_lines == 4 and len(loaded.frames) == len(good.splitlines())
    assert main(["report", str(run)]) == 0
    assert "4 unreadable line(s) in frames.jsonl skipped" in capsys.readouterr().out
    assert main(["compare", str(run), str(RUNS / "smoke")]) == 0
    assert main(["figures", str(run), "--out", str(tmp_path / "figures")]) == 0
