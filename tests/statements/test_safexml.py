"""The hardened XML stream: what it refuses before parsing, and that it frees as it goes."""

from __future__ import annotations

import pytest

from statements import safexml


def _entries(count: int) -> bytes:
    body = "".join(f"<Ntry><Amt>{i}</Amt></Ntry>" for i in range(count))
    return f'<Document xmlns="urn:x"><Stmt><Id>S</Id>{body}</Stmt></Document>'.encode()


def test_released_entries_leave_the_tree_as_the_stream_goes() -> None:
    count = 20_000  # about 600 kB: lxml parses ahead by chunks of a few dozen kB
    sizes: list[int] = []
    statement_children: list[str] = []
    for _event, element in safexml.iterparse(
        _entries(count), tags=("{*}Ntry", "{*}Stmt"), events=("end",)
    ):
        if element.tag == "{urn:x}Ntry":
            parent = element.getparent()
            assert parent is not None
            safexml.release(element)
            sizes.append(len(parent))
        else:
            statement_children = [safexml.local_name(child.tag) for child in element]
    # The statement holds only what the parser has read ahead, never the whole file,
    # and nothing but its header once every entry is read.
    assert len(sizes) == count
    assert max(sizes) < count // 4
    assert statement_children == ["Id"]


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", "the file is empty"),
        (b"hello", "the file is not XML: it does not start with an element"),
        (b"<?xml version='1.0'", "the file is truncated inside its XML declaration"),
        (b"<!-- open comment", "the file is truncated inside a comment"),
        (b"<?xml version='1.0'?>\n<!-- only a comment -->\n", "the file holds no XML element"),
    ],
)
def test_the_prolog_check_refuses_with_one_sentence(data: bytes, error: str) -> None:
    with pytest.raises(safexml.XmlRefused) as caught:
        safexml.check_prolog(data)
    assert caught.value.error == error


def test_the_prolog_check_returns_where_the_root_starts() -> None:
    data = b'\xef\xbb\xbf<?xml version="1.0"?>\n<!-- c -->\n<Document/>'
    assert data[safexml.check_prolog(data) :] == b"<Document/>"


def test_declared_encoding_defaults_to_utf8() -> None:
    assert safexml.declared_encoding(b"<Document/>") == "UTF-8"
    assert safexml.declared_encoding(b"<?xml version='1.0' encoding='iso-8859-1'?><a/>") == (
        "ISO-8859-1"
    )
