"""One background thread that samples power sensors, polls counters for wrap-arounds and collects telemetry.

Each task has its own period; the thread sleeps until the earliest is due (on an Event, so ``stop`` wakes
it at once). Deadlines advance by whole periods, so the rate does not drift; a tick that could not run
on time is skipped, not caught up in a burst. The thread's CPU time (``cpu_s``, the harness's sampling
overhead) is read from its CPU-time clock, by any thread, rather than once per tick: at 100 Hz even one
system call per tick is a measurable share of the cost.
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
        self.ticks = 0
        self._cpu_s = 0.0  # final values, set when the thread ends
        self._wall_s = 0.0
        self._clock: int | None = None
        self._started = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def cpu_s(self) -> float:
        """CPU seconds the sampler thread has used (so far, while it runs)."""
        if self._clock is not None and self.running:
            try:
                return time.clock_gettime(self._clock)
            except OSError:  # the thread ended between the check and the read
                pass
        return self._cpu_s

    @property
    def wall_s(self) -> float:
        """Seconds the sampler thread has run (so far, while it runs)."""
        return time.monotonic() - self._started if self.running else self._wall_s

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.tasks and self._thread is None:
            self._stop.clear()
            self._started = time.monotonic()
            self._thread = threading.Thread(target=self._loop, name="arbench-sampler", daemon=True)
            self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop and join the thread; safe to call twice or before ``start``."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _loop(self) -> None:
        self._clock = time.pthread_getcpuclockid(threading.get_ident())
        due = [self._started] * len(self.tasks)
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                for index, task in enumerate(self.tasks):
                    if now >= due[index]:
                        task.run()
                        due[index] += task.period_s
                        if due[index] <= now:  # fell behind: skip the missed ticks
                            due[index] = now + task.period_s
                self.ticks += 1
                self._stop.wait(max(min(due) - time.monotonic(), 0.0))
        finally:  # also when a task raised: the thread's cost stays known
            self._cpu_s, self._wall_s = time.thread_time(), time.monotonic() - self._started
