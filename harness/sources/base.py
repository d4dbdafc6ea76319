"""The interface every frame source implements."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from harness.types import Frame

__all__ = ["Source"]


class Source(Protocol):
    """Yields frames. ``frames()`` may be endless (a camera, a looping set) or finite (a video file).

    Expensive preparation (rendering synthetic scenes, opening a camera) happens in the constructor or
    ``open()``, outside the measured ``capture`` span; ``frames()`` yields each frame when it is ready and
    sets ``Frame.capture_ns`` from ``time.monotonic_ns()`` at that moment.
    """

    name: str

    def open(self) -> None:
        """Acquire the device or prepare the data; raises ``harness.errors.UserError`` if unavailable."""
        ...

    def frames(self) -> Iterator[Frame]:
        """Iterate over frames in order."""
        ...

    def close(self) -> None:
        """Release the device or file handles."""
        ...
