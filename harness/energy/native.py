"""File-backed power sensors (INA3221, INA2xx) read by a C thread instead of the Python sampler thread.

The C thread (harness/energy/_filesampler.c, built at install when a C compiler and Python's headers are
there) never takes the GIL: every period it re-reads the sensor's files with one ``pread`` each and keeps
(time, numbers) in a buffer, which ``NativeReader.drain`` turns into watts per channel by the sensor's own
``file_plan``. Python's thread pays for waking the interpreter and winning the GIL back from the pipeline at
every tick (1.4 % of a core at 100 Hz on the development VM before any file is read), and cannot keep up
at 1000 Hz while the pipeline holds the GIL. Timestamps are CLOCK_MONOTONIC, as ``time.monotonic_ns``.
"""

from __future__ import annotations

import math

from harness.energy.base import SYSFS_DEV, FileChannel

__all__ = ["NativeReader", "unavailable_reason"]

try:
    from harness.energy._filesampler import FileSampler
except ImportError as exc:  # not built: no C compiler or Python headers at install time
    FileSampler = None
    _IMPORT_ERROR = f"the C sampler is not built ({exc}); install gcc and python3-dev, then reinstall arbench"
else:
    _IMPORT_ERROR = ""


def unavailable_reason() -> str:
    """Why the C sampler cannot be used here ("" when it can)."""
    return _IMPORT_ERROR


class NativeReader:
    """A C sampler thread over one sensor's files, at ``hz``; ``drain`` gives (t_ns, watts per channel | None)."""

    def __init__(self, plan: tuple[FileChannel, ...], hz: float) -> None:
        if FileSampler is None:
            raise RuntimeError(_IMPORT_ERROR)
        paths = list(dict.fromkeys(path for channel in plan for path in channel.files))
        self._columns = [([paths.index(path) for path in channel.files], channel.scale) for channel in plan]
        self._sampler = FileSampler([str(path) for path in paths], 1 / hz, SYSFS_DEV)

    def start(self) -> None:
        self._sampler.start()

    def stop(self, timeout_s: float = 5.0) -> bool:
        """Stop and join the thread; False when it is stuck in a read past ``timeout_s``."""
        return bool(self._sampler.stop(timeout_s))

    def drain(self) -> list[tuple[int, tuple[float, ...] | None]]:
        """Samples since the last drain, oldest first; None where a read failed."""
        stamps, rows = self._sampler.drain()
        columns = self._columns
        return [
            (t_ns, None if row is None else tuple(scale * math.prod(row[i] for i in files) for files, scale in columns))
            for t_ns, row in zip(stamps, rows, strict=True)
        ]

    def counts(self) -> tuple[int, str | None]:
        """(failed reads + samples dropped from a full buffer, the first failure's message)."""
        counts = self._sampler.counts()
        first = counts["first_error"] or (f"{counts['dropped']} samples dropped: buffer full" if counts["dropped"] else None)
        return counts["errors"] + counts["dropped"], first

    @property
    def running(self) -> bool:
        return bool(self._sampler.running)

    @property
    def cpu_s(self) -> float:
        return float(self._sampler.cpu_s)

    @property
    def wall_s(self) -> float:
        return float(self._sampler.wall_s)
