"""The translation cache: a sign read in one of the last N frames is not translated again.

Keys are the recognized text normalized the way a reader would not notice the difference (Unicode NFKC,
case folded, runs of whitespace made one space, stripped), so "EXIT" and "Exit " share one translation.
An entry lives ``max_age_frames`` frames after the last frame that used it; hits and misses are counted
per frame so a run records its hit rate.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["TranslationCache", "cache_key"]


def cache_key(text: str) -> str:
    """The normalized text a translation is cached under."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


@dataclass
class _Entry:
    target: str
    last_frame: int


class TranslationCache:
    """Translations of the texts seen in the last ``max_age_frames`` frames."""

    def __init__(self, max_age_frames: int) -> None:
        if max_age_frames < 1:
            raise ValueError("a translation cache needs max_age_frames >= 1")
        self.max_age_frames = max_age_frames
        self._entries: dict[str, _Entry] = {}
        self._frame = -1

    def next_frame(self) -> None:
        """Start a new frame: entries not used in the last ``max_age_frames`` frames expire."""
        self._frame += 1
        oldest = self._frame - self.max_age_frames
        for key in [k for k, e in self._entries.items() if e.last_frame < oldest]:
            del self._entries[key]

    def translate(self, texts: list[str], translate: Callable[[list[str]], list[str]]) -> tuple[list[str], int]:
        """Targets for ``texts``, calling ``translate`` once on those not cached; also the number of hits.

        A text repeated within the frame is translated once; its later copies count as hits.
        """
        keys = [cache_key(text) for text in texts]
        fresh: dict[str, str] = {}  # key -> first text with it, in order
        for key, text in zip(keys, texts, strict=True):
            if key not in self._entries and key not in fresh:
                fresh[key] = text
        if fresh:
            targets = translate(list(fresh.values()))
            if len(targets) != len(fresh):
                raise ValueError(f"got {len(targets)} translations for {len(fresh)} texts")
            for key, target in zip(fresh, targets, strict=True):
                self._entries[key] = _Entry(target, self._frame)
        for key in keys:
            self._entries[key].last_frame = self._frame
        return [self._entries[key].target for key in keys], len(texts) - len(fresh)
