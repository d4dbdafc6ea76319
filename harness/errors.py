"""One error tree: every exception arbench raises on purpose is an ``ArbenchError``.

``UserError`` and its children are the user's to fix: the CLI prints one line and exits with code 2.
The others are defined beside the code that raises them and are handled there, never swallowed: a
stage that failed on a frame (``harness.pipeline.StageFailure``, recorded as a failed frame), a sensor
read that failed (``harness.energy.base.SensorError``, energy marked partial), an offload request that
failed (``harness.offload.client.OffloadError``) or a malformed message (``harness.offload.wire.WireError``),
a figure that cannot be drawn from a run (``harness.report.figures.Skip``, skipped with its reason).
Anything else is a bug and keeps its traceback.

    ArbenchError
    ├── UserError ── ConfigError, BackendUnavailable, DataMissing
    ├── RunInterrupted
    ├── StageFailure, SensorError, OffloadError, WireError
    └── Skip
"""

from __future__ import annotations

__all__ = ["ArbenchError", "BackendUnavailable", "ConfigError", "DataMissing", "UserError"]


class ArbenchError(Exception):
    """Base of every error arbench raises on purpose."""


class UserError(ArbenchError):
    """Bad input, missing file, unavailable hardware: something the user can fix. Message says how."""

    exit_code = 2


class ConfigError(UserError):
    """An experiment or device file that does not validate."""


class BackendUnavailable(UserError):
    """A backend whose package, binary or model is not present on this machine."""


class DataMissing(UserError):
    """A dataset or model file that is not where the configuration says."""


class RunInterrupted(ArbenchError):
    """Ctrl-C or SIGTERM stopped a run; its directory holds what was measured until then."""

    def __init__(self, run_dir: object) -> None:
        super().__init__(str(run_dir))
        self.run_dir = run_dir
