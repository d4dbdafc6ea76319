"""Spans on the monotonic nanosecond clock.

A ``Tracer`` collects the spans of one frame. Stage names are dotted paths: "ocr" is a top-level stage,
"ocr.det" one of its parts. Listeners (energy windows, later) see every span edge as it happens, so
measurements can be opened and closed exactly at the edges.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from harness.types import Span

__all__ = ["Clock", "SpanListener", "Tracer"]

Clock = Callable[[], int]


class SpanListener(Protocol):
    """Told about span edges as they happen (for energy windows keyed by span name)."""

    def span_started(self, name: str, t_ns: int) -> None:
        """A span named ``name`` opened at ``t_ns``."""
        ...

    def span_ended(self, name: str, t_ns: int) -> None:
        """The span named ``name`` closed at ``t_ns``."""
        ...


class Tracer:
    """Records named spans for one frame; create a fresh one per frame."""

    def __init__(self, clock: Clock = time.monotonic_ns, listeners: Sequence[SpanListener] = ()) -> None:
        self.clock = clock
        self.spans: list[Span] = []
        self._listeners = tuple(listeners)
        self._open: set[str] = set()

    @contextmanager
    def span(self, name: str, **attrs: Any) -> Iterator[dict[str, Any]]:
        """Time the body as span ``name``; the yielded dict collects attributes set inside the body.

        The span is recorded even when the body raises, so a failed stage still shows its time.
        """
        if name in self._open:
            raise ValueError(f"span {name!r} is already open")
        self._open.add(name)
        start = self.clock()
        for listener in self._listeners:
            listener.span_started(name, start)
        try:
            yield attrs
        finally:
            end = self.clock()
            for listener in self._listeners:
                listener.span_ended(name, end)
            self._open.discard(name)
            self.spans.append(Span(name, start, end, attrs))

    def add(self, name: str, start_ns: int, end_ns: int, **attrs: Any) -> None:
        """Record a span whose edges were measured elsewhere on the same clock."""
        self.spans.append(Span(name, start_ns, end_ns, attrs))
