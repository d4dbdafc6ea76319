"""The interface every frame source implements, and what its kind says before anything is opened."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar, Protocol, runtime_checkable

from harness.context import BackendContext
from harness.types import Frame

__all__ = ["Loops", "Source", "SourceBase", "SourceKind", "endless", "opens"]


class Source(Protocol):
    """Yields frames. ``frames()`` may be endless (a camera, a looping set) or finite (a video file).

    Expensive preparation (rendering synthetic scenes, opening a camera) happens in the constructor or
    ``open()``, outside the measured ``capture`` span; ``frames()`` yields each frame when it is ready and
    sets ``Frame.capture_ns`` from ``time.monotonic_ns()`` at that moment.

    ``fps``: the source's own frame rate (a video's, a camera's negotiated one), 0.0 when it has none.
    ``info``: what ``open()`` found out (a camera's negotiated format), recorded in the manifest.
    """

    name: str
    fps: float
    info: Mapping[str, Any]

    def open(self) -> None:
        """Acquire the device or prepare the data; raises ``harness.errors.UserError`` if unavailable."""
        ...

    def frames(self) -> Iterator[Frame]:
        """Iterate over frames in order."""
        ...

    def close(self) -> None:
        """Release the device or file handles."""
        ...


class SourceKind(Protocol):
    """The class a source kind registers: what a run can know of its sources before opening one.

    ``live``: frames come from the world as it is now (a camera): they pace themselves, so a camera-paced
    replay makes no sense. ``rewindable``: the same frames can be read again from the start (``[run]
    rounds``, ``all_frames``). ``modality``: "image" frames, or "text" (sentence sets for MT-only runs).
    ``timed``: its frames have a rate of their own (``fps``: a video's, a camera's), which camera-paced
    runs replay at unless ``[run] source_fps`` sets one.
    """

    live: ClassVar[bool]
    rewindable: ClassVar[bool]
    modality: ClassVar[str]
    timed: ClassVar[bool]

    def __call__(self, options: Any, context: BackendContext) -> Source: ...


class SourceBase:
    """The defaults of ``Source`` and ``SourceKind``, for sources to inherit: recorded, rewindable images."""

    live: ClassVar[bool] = False
    rewindable: ClassVar[bool] = True
    modality: ClassVar[str] = "image"
    timed: ClassVar[bool] = False
    name: str = ""
    fps: float = 0.0
    info: Mapping[str, Any] = {}


@runtime_checkable
class Loops(Protocol):
    """Options of a source that can start again after its last frame (``loop = true``)."""

    loop: bool


def endless(options: object, kind: SourceKind) -> bool:
    """Whether a source of ``kind`` with ``options`` never runs out of frames: it is live, or it loops."""
    return kind.live or (isinstance(options, Loops) and options.loop)


def opens(kind: Callable[[Any, BackendContext], Source]) -> Callable[[Any, BackendContext], None]:
    """A source module's ``preflight`` for sources whose ``open()`` only finds and checks files or a device.

    Opening and closing before the run makes a missing folder, file or camera one line and exit 2.
    """

    def preflight(options: Any, context: BackendContext) -> None:
        source = kind(options, context)
        source.open()
        source.close()

    return preflight
