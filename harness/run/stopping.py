"""The stopping rule: minimum frames AND minimum duration, with caps on both (as MLPerf LoadGen)."""

from __future__ import annotations

from harness.run.experiment import RunSettings

__all__ = ["stop_reason", "validity"]


def stop_reason(settings: RunSettings, measured: int, elapsed_s: float) -> str | None:
    """Why measurement should stop now, or None to go on. ``elapsed_s`` counts measured frames only."""
    if measured >= settings.max_frames:
        return "max_frames"
    if elapsed_s >= settings.max_duration_s:
        return "max_duration_s"
    if not settings.all_frames and measured >= settings.min_frames and elapsed_s >= settings.min_duration_s:
        return "minimums_met"
    return None


def validity(settings: RunSettings, measured: int, elapsed_s: float, stopped: str | None) -> dict[str, bool]:
    """Which minimums a configuration met; a run that stopped on a cap or ran out of frames may miss one.

    With ``all_frames`` the requirement is instead that the whole source was measured.
    """
    if settings.all_frames:
        return {"all_frames_measured": stopped == "source_exhausted"}
    return {
        "min_frames_met": measured >= settings.min_frames,
        "min_duration_met": elapsed_s >= settings.min_duration_s,
    }
