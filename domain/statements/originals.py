"""A bank file as recon-bot keeps it: its SHA-256, its length and its bytes, compressed.

:class:`Original` is built in one pass of bounded slices, from bytes already in memory
or from a file object the caller opened (no path is opened here).
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO, Final

#: How the original file is compressed: zlib's fastest level (bank files are text and
#: shrink about 15 times even so), fed in slices of this many bytes.
_ZLIB_LEVEL: Final = 1
_SLICE: Final = 1 << 18


@dataclass(frozen=True, slots=True)
class Original:
    """A bank file as it is kept: the SHA-256 and length of its bytes, and the bytes
    zlib-compressed (``packed``), or the bytes themselves when compressing does not make
    them shorter. :meth:`read` builds it from a file in one pass of bounded slices, so a
    100 MB file is never whole in memory; :meth:`of` from bytes a caller already holds."""

    sha256: str
    size: int
    packed: bytes

    @property
    def compressed(self) -> bool:
        """Whether ``packed`` is compressed (it is shorter than the original)."""
        return len(self.packed) < self.size

    def unpack(self) -> bytes:
        """The original bytes."""
        return zlib.decompress(self.packed) if self.compressed else self.packed

    @classmethod
    def of(cls, data: bytes) -> Original:
        """The kept form of bytes in memory (sliced: no second copy of the whole)."""
        view = memoryview(data)
        packed = _pack(view[i : i + _SLICE] for i in range(0, len(data), _SLICE))
        return cls(sha256=packed[0], size=len(data), packed=_shorter(packed[1], data))

    @classmethod
    def read(cls, file: IO[bytes]) -> Original:
        """The kept form of a file read from where it stands to its end, slice by slice.

        Only when compressing does not shorten it (not text) is the file read again
        whole, from the same start, to keep it as it is.
        """
        start = file.tell()
        size = 0

        def slices() -> Iterable[bytes]:
            nonlocal size
            while chunk := file.read(_SLICE):
                size += len(chunk)
                yield chunk

        sha256, packed = _pack(slices())
        if len(packed) >= size:
            file.seek(start)
            packed = file.read()
        return cls(sha256=sha256, size=size, packed=packed)


def _pack(slices: Iterable[bytes | memoryview]) -> tuple[str, bytes]:
    """The SHA-256 and the zlib compression of the bytes ``slices`` add up to."""
    digest = hashlib.sha256()
    packer = zlib.compressobj(_ZLIB_LEVEL)
    parts: list[bytes] = []
    for piece in slices:
        digest.update(piece)
        parts.append(packer.compress(piece))
    parts.append(packer.flush())
    return digest.hexdigest(), b"".join(parts)


def _shorter(packed: bytes, data: bytes) -> bytes:
    return packed if len(packed) < len(data) else data
