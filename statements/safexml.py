"""Hardened, streaming XML for bank files (camt.053, OFX 2).

A bank file comes from outside, so the XML parser must never reach outside itself:

* a document type declaration (``<!DOCTYPE ...>``) is refused *before* the bytes reach
  libxml2, so no external entity (``file://``, ``http://``), no external DTD and no entity
  expansion bomb ("billion laughs") is ever looked at: bank formats never need a DTD;
* the parser itself is also set up closed (``resolve_entities=False``, ``no_network=True``,
  ``load_dtd=False``, ``huge_tree=False``), in case a DTD ever got past the check;
* documents in a non-ASCII-compatible encoding (UTF-16, UTF-32) are refused with the
  reason: the formats prescribe UTF-8 and the prolog check reads ASCII.

``iterparse`` streams: callers clear and remove the elements they have read, so a
100 MB file never sits in memory as a tree. Whether the document is well-formed is known
only at its end; :func:`ends_closed` tells, without parsing, whether a file at least ends
with its root element's end tag (a truncated file does not), so a caller can hand out
what it reads before the end only for such files.

Each reader takes the document as bytes, or as a binary file (opened ``rb``, seekable),
which it reads from its start in slices: only :data:`EDGE_BYTES` of its start and its
end are ever held whole, so a 100 MB file on disk never is.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence
from typing import IO, Literal

from lxml import etree

#: The iterparse events the readers use.
Event = Literal["start", "end"]

#: A document: its bytes, or a binary file read from its start.
Source = bytes | IO[bytes]

#: How much of a file's start (the prolog, up to the root element) and of its end (the
#: root's end tag and what may follow it) is read whole; a prolog longer than this is
#: refused as truncated, and a file whose trailing comments are longer is read whole
#: before its statements are handed out.
EDGE_BYTES = 1 << 16

_UTF8_BOM = b"\xef\xbb\xbf"
_ENCODING_DECL = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


class XmlRefused(Exception):
    """The file is not XML recon-bot will read; ``error`` is one sentence, ``line`` 1-based."""

    def __init__(self, error: str, line: int | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.line = line


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def declared_encoding(data: bytes) -> str:
    """The encoding the XML declaration names (``UTF-8`` when it names none)."""
    start = len(_UTF8_BOM) if data.startswith(_UTF8_BOM) else 0
    if data.startswith(b"<?xml", start):
        end = data.find(b"?>", start)
        if end != -1:
            match = _ENCODING_DECL.search(data, start, end)
            if match:
                return match.group(1).decode("ascii").upper()
    return "UTF-8"


def check_prolog(data: bytes) -> int:
    """Checks what comes before the root element; returns the root element's offset.

    Raises:
        XmlRefused: empty file, an encoding that is not ASCII-compatible, a DTD, or no
            element at all.
    """
    if not data or data.isspace():  # never data.strip(): a copy of a 100 MB file
        raise XmlRefused("the file is empty")
    head = data[:4]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data[:64]:
        raise XmlRefused(
            "wrong encoding: the file is UTF-16 or UTF-32; bank statement XML must be UTF-8",
            1,
        )
    pos = len(_UTF8_BOM) if data.startswith(_UTF8_BOM) else 0
    size = len(data)
    while pos < size:
        byte = data[pos : pos + 1]
        if byte in (b" ", b"\t", b"\r", b"\n"):
            pos += 1
        elif data.startswith(b"<?", pos):
            end = data.find(b"?>", pos)
            if end == -1:
                raise XmlRefused("the file is truncated inside its XML declaration", 1)
            pos = end + 2
        elif data.startswith(b"<!--", pos):
            end = data.find(b"-->", pos)
            if end == -1:
                raise XmlRefused("the file is truncated inside a comment", _line_of(data, pos))
            pos = end + 3
        elif data.startswith(b"<!", pos):
            raise XmlRefused(
                "the file declares a document type (<!DOCTYPE ...>); bank statements never "
                "need one, and recon-bot refuses it so that no external entity is read and "
                "no entity is expanded",
                _line_of(data, pos),
            )
        elif byte == b"<":
            return pos
        else:
            raise XmlRefused("the file is not XML: it does not start with an element", 1)
    raise XmlRefused("the file holds no XML element")


_WHITESPACE = b" \t\r\n"


def head(source: Source) -> bytes:
    """The start of a document (all of it as bytes; :data:`EDGE_BYTES` of a file, which is
    left at its start)."""
    if isinstance(source, bytes):
        return source
    source.seek(0)
    start = source.read(EDGE_BYTES)
    source.seek(0)
    return start


def ends_closed(source: Source) -> bool:
    """True when, after trailing whitespace, comments and processing instructions, the
    file ends with the end tag of the element it starts with (``</Document>``).

    Looks only at the start and the end of the file (no parse, no copy; of a file, only
    :data:`EDGE_BYTES` at each end): a truncated file, or one with anything else after
    its root, answers False; a True says nothing about the middle of the file, which
    only a parse finds out.
    """
    start = head(source)
    try:
        root = check_prolog(start)
    except XmlRefused:
        return False
    stop = root + 1
    while stop < len(start) and start[stop] not in b" \t\r\n/>":
        stop += 1
    name = start[root + 1 : stop]
    if isinstance(source, bytes):
        return _closes(source, name, root)
    size = source.seek(0, io.SEEK_END)
    source.seek(max(0, size - EDGE_BYTES))
    tail = source.read(EDGE_BYTES)
    source.seek(0)
    # A tail of a longer file holds no part of the prolog: its first byte is the floor.
    return _closes(tail, name, root if size <= EDGE_BYTES else 0)


def _closes(data: bytes, name: bytes, root: int) -> bool:
    """Whether ``data`` ends (past ``root``) with ``name``'s end tag, then only
    whitespace, comments and processing instructions."""
    end = len(data)
    while True:
        while end > root and data[end - 1] in _WHITESPACE:
            end -= 1
        if data.endswith(b"-->", root, end):
            opened = data.rfind(b"<!--", root, end - 3)
        elif data.endswith(b"?>", root, end):
            opened = data.rfind(b"<?", root, end - 2)
        else:
            break
        if opened == -1:
            return False
        end = opened
    if not name or not data.endswith(b">", root, end):
        return False
    tag_start = data.rfind(b"</", root, end)
    if tag_start == -1:
        return False
    return data[tag_start + 2 : end - 1].rstrip(_WHITESPACE) == name


def iterparse(
    source: Source, *, tags: Sequence[str], events: Sequence[Event] = ("end",)
) -> Iterator[tuple[str, etree._Element]]:
    """Streams ``(event, element)`` for ``tags`` (``"{*}Ntry"``) after :func:`check_prolog`
    (of a file's first :data:`EDGE_BYTES`; lxml then reads the file in slices).

    Raises:
        XmlRefused: the prolog check failed, or the XML is not well-formed (truncated,
            wrong encoding, a stray character); the sentence says where.
    """
    start = head(source)
    check_prolog(start)
    parser = closed_iterparse(source, tags=tags, events=events)
    try:
        yield from parser
    except etree.XMLSyntaxError as err:
        raise _syntax_refusal(err, start) from None


def closed_iterparse(
    source: Source, *, tags: Sequence[str], events: Sequence[Event]
) -> etree.iterparse[tuple[str, etree._Element]]:
    """lxml's iterparse set up closed: no entities resolved, no network, no DTD loaded.

    The second line of defence, behind :func:`check_prolog`; use :func:`iterparse`.
    """
    return etree.iterparse(
        io.BytesIO(source) if isinstance(source, bytes) else source,
        events=tuple(events),
        tag=tuple(tags),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def _syntax_refusal(err: etree.XMLSyntaxError, data: bytes) -> XmlRefused:
    # The exception's own message can be a generic "no element found" at (0, 0); the
    # error log's last entry names the real cause and its place.
    last = err.error_log.last_error if err.error_log else None
    if last is not None and last.line:
        message, line, column, kind = last.message, last.line, last.column, last.type_name
    else:
        line, column = err.position if err.position else (0, 0)
        message, kind = (err.msg or "").split(", line ")[0], ""
    message = message.strip().rstrip(".")
    where = f"line {line}, column {column}" if line else "the end of the file"
    lowered = message.lower()
    if "encoding" in lowered or "bytes" in lowered or kind == "ERR_INVALID_CHAR":
        return XmlRefused(
            f"wrong encoding: the bytes at {where} are not valid "
            f"{declared_encoding(data)} (the encoding the file declares)",
            line or None,
        )
    if "premature end" in lowered or kind == "ERR_TAG_NOT_FINISHED" or not line:
        return XmlRefused(
            f"the file is truncated: the XML ends at {where} before its elements are "
            f"closed ({message})",
            line or None,
        )
    return XmlRefused(f"the file is not well-formed XML at {where}: {message}", line)


def local_name(tag: object) -> str:
    """``{urn:...}Ntry`` -> ``Ntry`` (an element's ``tag``)."""
    return str(tag).rpartition("}")[2]


def namespace(tag: object) -> str:
    """``{urn:...}Ntry`` -> ``urn:...`` (empty without a namespace)."""
    text = str(tag)
    return text[1 : text.index("}")] if text.startswith("{") else ""


def release(element: etree._Element) -> None:
    """Frees a read element: clears it and removes it from its parent (streaming)."""
    element.clear(keep_tail=False)
    parent = element.getparent()
    if parent is not None:
        parent.remove(element)


__all__ = [
    "EDGE_BYTES",
    "Event",
    "Source",
    "XmlRefused",
    "check_prolog",
    "declared_encoding",
    "ends_closed",
    "head",
    "iterparse",
    "local_name",
    "namespace",
    "release",
]
