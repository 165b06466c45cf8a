"""Zstandard for index.db's `contents`: a frame inflated whole, only its head (``inflate_head``,
a file's symbol details), or from an offset only as far as it is read (``LazyText``, snippets).
What a frame holds and where each part starts is rows.py's."""

from __future__ import annotations

import codecs
import threading
from collections.abc import Callable
from typing import Any, TypeVar


def _zstd() -> Any:
    # Imported on first use (5 ms): most commands never read or write a file's text.
    import zstandard

    return zstandard


#: Zstandard level of `contents`: on CPython's Lib/ level 6 stores the text in 0.22 of its size
#: (level 3: 0.24, 0.6 MB more; 9: 0.21 for twice 6's time; zlib 6: 0.22) at ~0.2 ms a file,
#: off the write lock; inflating is as fast at any level, 2.5x zlib's — search inflates every
#: result's text, and zlib's inflating made the in-process search p50 1.6x slower. A Zstandard
#: dictionary trained on the first files saved 0.3-0.4 MB more: not worth storing and
#: versioning one. Blobs of any level inflate alike: changing it needs no upgrade.
ZSTD_LEVEL = 6
# Compressed bytes of a first step: about one Zstandard block (128 KB of text), the smallest part
# a frame can be inflated in; most files are inflated in this one step.
INFLATE_STEP = 32 * 1024
T = TypeVar("T")


# A Zstandard context costs 15 us to make (a search inflates ~10 texts) and must not be shared
# between threads: one of each per thread.
_CODECS = threading.local()


def _codec(kind: str) -> Any:
    codec = getattr(_CODECS, kind, None)
    if codec is None:
        zstd = _zstd()
        codec = zstd.ZstdCompressor(level=ZSTD_LEVEL) if kind == "c" else zstd.ZstdDecompressor()
        setattr(_CODECS, kind, codec)
    return codec


def encode(text: str) -> bytes:
    """Text as frames hold it: UTF-8, lone surrogates (odd file names) kept."""
    return text.encode("utf-8", "surrogatepass")


def decode(data: bytes) -> str:
    return data.decode("utf-8", "surrogatepass")


def compress(data: bytes) -> bytes:
    """One Zstandard frame (with its size) of ``data``."""
    return bytes(_codec("c").compress(data))


def inflate(blob: bytes) -> bytes:
    """All of a frame."""
    return bytes(_codec("d").decompress(blob))


def inflate_head(blob: bytes, size: int) -> bytes:
    """At least the first ``size`` bytes of a frame (all of a small one), for a part stored
    before the rest: a large file's text is not inflated to read what precedes it."""
    if len(blob) <= INFLATE_STEP:
        return inflate(blob)
    inflater = _zstd().ZstdDecompressor().decompressobj()
    out = b""
    for at in range(0, len(blob), INFLATE_STEP):
        out += inflater.decompress(blob[at : at + INFLATE_STEP])
        if len(out) >= size:
            break
    return out


class LazyText:
    """The text a frame holds from byte ``start`` on, inflated only as far as it is read.

    Search makes a snippet from the first match or a definition's line, mostly near the top of
    a file: inflating all of every result's text (750 KB for pydoc_data/topics.py) cost more
    than the rest of a search on CPython's Lib/. ``find`` inflates in doubling steps until its
    probe is satisfied; the probe sees the same text, from the start, that the whole would give.
    """

    def __init__(self, z: bytes | None, start: int = 0) -> None:
        self.text = ""
        self.complete = z is None
        self._z = z or b""
        self._at = 0
        self._skip = start  # inflated bytes still to drop before the text
        self._utf8 = codecs.getincrementaldecoder("utf-8")("surrogatepass")
        self._inflater: Any = None
        if z is not None and len(z) <= INFLATE_STEP:  # one step: at once, in this thread's context
            self.text = decode(inflate(z)[start:])
            self.complete = True
        elif z is not None:  # its own context: a stream must not share one with other texts
            self._inflater = _zstd().ZstdDecompressor().decompressobj()

    def more(self) -> None:
        """Inflate the next step (as much again as so far), or the rest."""
        if self.complete or self._inflater is None:
            return
        step = max(INFLATE_STEP, self._at)
        out = b""
        # A block comes out only whole: feed until some text does, so no probe runs twice on
        # the same text.
        while not out and not self.complete:
            chunk = self._z[self._at : self._at + step]
            self._at += len(chunk)
            out = bytes(self._inflater.decompress(chunk)) if chunk else b""
            self.complete = self._at >= len(self._z)
            if self._skip:
                dropped = min(self._skip, len(out))
                out, self._skip = out[dropped:], self._skip - dropped
        self.text += self._utf8.decode(out, final=self.complete)

    def find(self, probe: Callable[[str, bool], tuple[bool, T]]) -> T:
        """``probe(text so far, complete)`` → (answered, value); more text until answered."""
        while True:
            answered, value = probe(self.text, self.complete)
            if answered or self.complete:
                return value
            self.more()

    def whole(self) -> str:
        while not self.complete:
            self.more()
        return self.text
