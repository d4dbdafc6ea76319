"""One background thread that samples power sensors, polls counters for wrap-arounds and collects telemetry.

Each task has its own period; the thread sleeps until the earliest is due (on an Event, so ``stop`` wakes
it at once). Deadlines advance by whole periods, so the rate does not drift; a tick that could not run
on time is skipped, not caught up in a burst. The thread measures its own CPU time (``cpu_s``), the
harness's sampling overhead.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Sampler", "Task"]


@dataclass
class Task:
    """Call ``run`` every ``period_s`` seconds."""

    name: str
    period_s: float
    run: Callable[[], None]


class Sampler:
    """Runs the tasks in one daemon thread between ``start`` and ``stop``."""

    def __init__(self, tasks: list[Task]) -> None:
        self.tasks = [t for t in tasks if t.period_s > 0]
        self.cpu_s = 0.0
        self.wall_s = 0.0
        self.ticks = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.tasks and self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="arbench-sampler", daemon=True)
            self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop and join the thread; safe to call twice or before ``start``."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _loop(self) -> None:
        cpu0, wall0 = time.thread_time(), time.monotonic()
        due = [time.monotonic()] * len(self.tasks)
        while not self._stop.is_set():
            now = time.monotonic()
            for index, task in enumerate(self.tasks):
                if now >= due[index]:
                    task.run()
                    due[index] += task.period_s
                    if due[index] <= now:  # fell behind: skip the missed ticks
                        due[index] = now + task.period_s
            self.ticks += 1
            self.cpu_s, self.wall_s = time.thread_time() - cpu0, time.monotonic() - wall0
            self._stop.wait(max(min(due) - time.monotonic(), 0.0))
        self.cpu_s, self.wall_s = time.thread_time() - cpu0, time.monotonic() - wall0
