"""Hostile XML: an external entity is never read, an entity bomb is never expanded.

Two layers are tested: the prolog check refuses any DTD before libxml2 sees the bytes,
and the parser itself is set up closed, for the day a DTD got past the check.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from lxml import etree

import statements
from statements import camt053, ofx, safexml
from tests.statements.conftest import read

SECRET = "TOP-SECRET-PAYROLL-4711"


class _Recorder(http.server.BaseHTTPRequestHandler):
    requests: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).requests.append(self.path)
        body = f'<!ENTITY leak "{SECRET}">'.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def dtd_server() -> Iterator[tuple[str, list[str]]]:
    """A loopback server that would hand out a malicious DTD; records every request."""
    requests: list[str] = []

    class Handler(_Recorder):
        pass

    Handler.requests = requests
    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/evil.dtd", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _xxe(secret_file: Path, url: str, root: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        "<!DOCTYPE Document [\n"
        f'  <!ENTITY xxe SYSTEM "file://{secret_file}">\n'
        f'  <!ENTITY % remote SYSTEM "{url}">\n'
        "  %remote;\n"
        "]>\n"
        f"{root}"
    ).encode()


CAMT_ROOT = (
    '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>'
    "<Stmt><Id>&xxe;</Id><Acct><Id><IBAN>&leak;</IBAN></Id></Acct></Stmt>"
    "</BkToCstmrStmt></Document>"
)


def test_external_entities_are_refused_and_never_read(
    tmp_path: Path, dtd_server: tuple[str, list[str]]
) -> None:
    url, requests = dtd_server
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(SECRET)
    result = statements.parse(_xxe(secret_file, url, CAMT_ROOT))
    assert result.statements == ()
    (problem,) = result.problems
    assert problem.where == "line 2"
    assert problem.error.startswith("the file declares a document type (<!DOCTYPE ...>)")
    assert SECRET not in repr(result)
    assert requests == []


def test_the_parser_itself_resolves_no_entity_even_past_the_check(
    tmp_path: Path, dtd_server: tuple[str, list[str]]
) -> None:
    url, requests = dtd_server
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(SECRET)
    data = _xxe(secret_file, url, CAMT_ROOT)
    seen = [
        etree.tostring(element)
        for _event, element in safexml.closed_iterparse(data, tags=("{*}Stmt",), events=("end",))
    ]
    assert len(seen) == 1
    assert SECRET.encode() not in seen[0]
    assert b"&xxe;" in seen[0]  # left as an unresolved reference
    assert requests == []


def test_billion_laughs_is_refused_before_any_expansion() -> None:
    # Ten levels of ten: 20 GB if expanded. Finishing at all shows nothing was expanded.
    result = statements.parse(read("billion_laughs.xml"))
    assert result.statements == ()
    (problem,) = result.problems
    assert problem.error.startswith("the file declares a document type")


def test_the_closed_parser_does_not_expand_a_bomb_either() -> None:
    data = read("billion_laughs.xml")
    try:
        elements = [
            etree.tostring(element)
            for _event, element in safexml.closed_iterparse(data, tags=("{*}Id",), events=("end",))
        ]
    except etree.XMLSyntaxError as err:
        # libxml2's own guard (lxml 6 / libxml2 2.14): refused, not expanded.
        assert "amplification" in str(err)
        return
    assert len(elements) == 1 and len(elements[0]) < 200  # left unexpanded


def test_ofx2_with_a_dtd_is_refused(tmp_path: Path, dtd_server: tuple[str, list[str]]) -> None:
    url, requests = dtd_server
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(SECRET)
    root = (
        "<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><CURDEF>&xxe;</CURDEF></STMTRS>"
        "</STMTTRNRS></BANKMSGSRSV1></OFX>"
    )
    data = _xxe(secret_file, url, root).replace(b"?>\n", b'?>\n<?OFX OFXHEADER="200"?>\n', 1)
    result = ofx.parse(data)
    (problem,) = result.problems
    assert problem.error.startswith("the file declares a document type")
    assert SECRET not in repr(result)
    assert requests == []


@pytest.mark.parametrize(
    "prolog",
    [
        b"<!-- a comment -->\n<!DOCTYPE Document>\n",
        b'\xef\xbb\xbf<?xml version="1.0"?>\n<!DOCTYPE Document SYSTEM "x.dtd">\n',
    ],
)
def test_a_doctype_after_comments_or_a_bom_is_still_found(prolog: bytes) -> None:
    data = prolog + b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"/>'
    (problem,) = camt053.parse(data).problems
    assert problem.error.startswith("the file declares a document type")


def test_a_doctype_like_text_inside_the_document_is_no_doctype() -> None:
    data = (
        b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>'
        b"<GrpHdr><MsgId>&lt;!DOCTYPE x&gt;</MsgId></GrpHdr></BkToCstmrStmt></Document>"
    )
    (problem,) = camt053.parse(data).problems
    assert problem.error == "the camt.053 file holds no statement (Stmt)"
