"""The sans-I/O HTTP/1.1 layer: requests to bytes, bytes to one response, and every refusal."""

from __future__ import annotations

import string

import h11
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from speedpix._http11 import (
    MAX_BODY_SIZE,
    MAX_HEAD_SIZE,
    ProtocolError,
    Response,
    ResponseParser,
    encode_request,
)


def parse(data: bytes, *, eof: bool = False, head_request: bool = False) -> Response:
    """Feed ``data`` in one piece (then EOF if asked) and return the complete response."""
    parser = ResponseParser(head_request=head_request)
    parser.receive(data)
    if eof:
        parser.receive_eof()
    response = parser.next_response()
    assert response is not None
    return response


def parse_error(data: bytes, *, eof: bool = False) -> str:
    """Feed ``data`` (then EOF if asked) and return the ProtocolError's message."""
    parser = ResponseParser()
    parser.receive(data)
    if eof:
        parser.receive_eof()
    with pytest.raises(ProtocolError) as error:
        parser.next_response()
    return str(error.value)


# -- encode_request ------------------------------------------------------------------------


def test_request_with_content_length_is_encoded_exactly() -> None:
    data = encode_request(
        b"POST", b"/scc/comfy_prompt?x=1", [(b"Host", b"example.com"), (b"Content-Length", b"2")], b"{}"
    )
    assert data == b"POST /scc/comfy_prompt?x=1 HTTP/1.1\r\nHost: example.com\r\nContent-Length: 2\r\n\r\n{}"


@pytest.mark.parametrize(
    ("body", "encoded_body"),
    [(b"hello world", b"b\r\nhello world\r\n0\r\n\r\n"), (b"", b"0\r\n\r\n")],
)
def test_chunked_request_sends_the_body_as_one_chunk_then_the_terminator(body: bytes, encoded_body: bytes) -> None:
    # The header is matched case-insensitively, as HTTP names and this coding are.
    data = encode_request(b"PUT", b"/u", [(b"Host", b"h"), (b"transfer-encoding", b"Chunked")], body)
    assert data == b"PUT /u HTTP/1.1\r\nHost: h\r\ntransfer-encoding: Chunked\r\n\r\n" + encoded_body


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (b"", b"v"),
        (b"X Bad", b"v"),
        (b"X:Y", b"v"),
        (b"X\r\nEvil", b"1"),
        (b"X\0", b"v"),
        (b"X-Ok", b"a\r\nEvil: 1"),
        (b"X-Ok", b"a\nEvil: 1"),
        (b"X-Ok", b"a\rb"),
        (b"X-Ok", b"a\0b"),
    ],
)
def test_header_injection_is_refused(name: bytes, value: bytes) -> None:
    with pytest.raises(ProtocolError):
        encode_request(b"GET", b"/", [(b"Host", b"h"), (name, value)], b"")


# -- well-formed responses -----------------------------------------------------------------


def test_content_length_body() -> None:
    parser = ResponseParser()
    parser.receive(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n{"ok": true}')
    response = parser.next_response()
    assert response == Response(
        status=200,
        reason=b"OK",
        headers=[(b"Content-Type", b"application/json"), (b"Content-Length", b"12")],
        body=b'{"ok": true}',
        http_version=b"HTTP/1.1",
        keep_alive=True,
    )
    assert parser.clean


def test_chunked_body_with_extensions_and_trailers() -> None:
    parser = ResponseParser()
    parser.receive(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;ext=1\r\nhello\r\n"
        b'1 ;name="quoted"\r\n,\r\n'
        b"A\r\n world!!!!\r\n"
        b"0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n"
    )
    response = parser.next_response()
    assert response is not None
    assert response.body == b"hello, world!!!!"
    assert response.keep_alive
    assert response.headers == [(b"Transfer-Encoding", b"chunked")]  # trailers are not headers
    assert parser.clean  # the trailers were consumed


def test_body_without_framing_is_read_until_close() -> None:
    parser = ResponseParser()
    parser.receive(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\npart one, ")
    assert parser.next_response() is None
    parser.receive(b"part two")
    assert parser.next_response() is None  # no length: only the close ends it
    parser.receive_eof()
    response = parser.next_response()
    assert response is not None
    assert response.body == b"part one, part two"
    assert not response.keep_alive


def test_empty_read_until_close_body() -> None:
    response = parse(b"HTTP/1.1 200 OK\r\n\r\n", eof=True)
    assert response.body == b""
    assert not response.keep_alive


@pytest.mark.parametrize(
    ("head", "head_request"),
    [
        (b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", False),
        (b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n", False),
        (b"HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", False),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", True),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", True),
    ],
)
def test_responses_without_a_body_ignore_the_framing_headers(head: bytes, head_request: bool) -> None:
    parser = ResponseParser(head_request=head_request)
    parser.receive(head)
    response = parser.next_response()  # complete without any body byte and without EOF
    assert response is not None
    assert response.body == b""
    assert response.keep_alive
    assert parser.clean


def test_informational_responses_are_skipped() -> None:
    response = parse(
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
        b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"
    )
    assert (response.status, response.reason, response.body) == (201, b"Created", b"ok")
    assert response.headers == [(b"Content-Length", b"2")]  # none of the 1xx headers


def test_switching_protocols_is_refused() -> None:
    assert "switched protocols" in parse_error(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")


@pytest.mark.parametrize(
    "data",
    [
        b"HTTP/1.1 200 OK\nX-A: 1\nContent-Length: 2\n\nok",
        b"HTTP/1.1 200 OK\nX-A: 1\r\nContent-Length: 2\n\r\nok",
        b"HTTP/1.1 200 OK\nX-A: 1\nTransfer-Encoding: chunked\n\n1\no\n1;e\nk\n0\nT: 1\n\n",
    ],
)
def test_bare_lf_line_ends_are_accepted(data: bytes) -> None:
    parser = ResponseParser()
    parser.receive(data)
    response = parser.next_response()
    assert response is not None
    assert (response.status, response.body, response.headers[0]) == (200, b"ok", (b"X-A", b"1"))
    assert parser.clean


def test_obsolete_line_folding_joins_the_value() -> None:
    response = parse(b"HTTP/1.1 200 OK\r\nX-Long: first\r\n   second\r\n\tthird \r\nContent-Length: 0\r\n\r\n")
    assert response.headers == [(b"X-Long", b"first second third"), (b"Content-Length", b"0")]


@pytest.mark.parametrize(
    ("folded", "value"),
    [
        (b"X-Long:\r\n value", b"value"),  # nothing before the fold
        (b"X-Long: value\r\n \r\n\t", b"value"),  # folds holding only whitespace
    ],
)
def test_obsolete_line_folding_leaves_no_whitespace_at_the_ends(folded: bytes, value: bytes) -> None:
    # RFC 9112 §5.2: a fold is replaced by SP before the value is interpreted, so the
    # leading and trailing whitespace (OWS) is not part of the value, as for any header.
    response = parse(b"HTTP/1.1 200 OK\r\n" + folded + b"\r\nContent-Length: 0\r\n\r\n")
    assert response.headers[0] == (b"X-Long", value)


def test_header_names_keep_their_case_and_order_and_values_lose_surrounding_whitespace() -> None:
    response = parse(
        b"HTTP/1.1 200 OK\r\nX-B: 1\r\nx-a:2\r\nX-B: \t3 \t\r\nSET-cookie: a=b; Path=/\r\ncontent-LENGTH: 0\r\n\r\n"
    )
    assert response.headers == [
        (b"X-B", b"1"),
        (b"x-a", b"2"),
        (b"X-B", b"3"),
        (b"SET-cookie", b"a=b; Path=/"),
        (b"content-LENGTH", b"0"),
    ]


@pytest.mark.parametrize(
    "value",
    [b"x\0y", b"x\ry"],
)
def test_a_received_header_value_with_nul_or_cr_is_refused(value: bytes) -> None:
    # RFC 9110 §5.5: a recipient of CR, LF or NUL in a field value MUST reject the
    # message or replace them with SP; the request side already refuses them.
    parser = ResponseParser()
    parser.receive(b"HTTP/1.1 200 OK\r\nX-Bad: " + value + b"\r\nContent-Length: 0\r\n\r\n")
    try:
        response = parser.next_response()
    except ProtocolError:
        return
    assert response is not None
    assert response.headers[0] == (b"X-Bad", value.replace(b"\0", b" ").replace(b"\r", b" "))


@pytest.mark.parametrize(
    ("data", "version"),
    [
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", b"HTTP/1.1"),
        (b"HTTP/1.1 200 OK\r\nconnection: Upgrade, CLOSE\r\nContent-Length: 0\r\n\r\n", b"HTTP/1.1"),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", b"HTTP/1.0"),
        (b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", b"HTTP/1.0"),
    ],
)
def test_connection_close_and_http_1_0_are_not_kept_alive(data: bytes, version: bytes) -> None:
    response = parse(data)
    assert response.http_version == version
    assert not response.keep_alive


def test_connection_other_than_close_keeps_alive() -> None:
    assert parse(b"HTTP/1.1 200 OK\r\nConnection: keep-alive, closed\r\nContent-Length: 0\r\n\r\n").keep_alive


def test_chunked_with_a_content_length_is_decoded_as_chunked_but_not_kept_alive() -> None:
    # Both framings at once is how requests are smuggled: read it, but do not reuse the connection.
    response = parse(
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"
    )
    assert response.body == b"ok"
    assert not response.keep_alive


@pytest.mark.parametrize("coding", [b"gzip", b"chunked, gzip"])
def test_a_final_coding_other_than_chunked_is_read_until_close(coding: bytes) -> None:
    parser = ResponseParser()
    parser.receive(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: " + coding + b"\r\nContent-Length: 2\r\n\r\n2\r\nok\r\n")
    assert parser.next_response() is None  # neither the Content-Length nor the chunks end it
    parser.receive_eof()
    response = parser.next_response()
    assert response is not None
    assert response.body == b"2\r\nok\r\n"
    assert not response.keep_alive


def test_codings_ending_in_chunked_are_decoded_as_chunked() -> None:
    response = parse(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: Chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"
    )
    assert response.body == b"ok"
    assert response.keep_alive


def test_repeated_equal_content_lengths_are_one_length() -> None:
    assert parse(b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\nok").body == b"ok"


# -- incremental feeding -------------------------------------------------------------------

WELL_FORMED = [
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n1\r\n!\r\n0\r\nT: 1\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    b"HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n2\nok\n0\n\n",
    b"HTTP/1.1 204 No Content\r\nX: 1\r\n\r\n",
]


@pytest.mark.parametrize("data", WELL_FORMED)
def test_response_is_complete_only_with_its_last_byte_for_every_split(data: bytes) -> None:
    whole = parse(data)
    for split in range(len(data)):
        parser = ResponseParser()
        parser.receive(data[:split])
        assert parser.next_response() is None, split
        parser.receive(data[split:])
        assert parser.next_response() == whole, split
        assert parser.clean


@pytest.mark.parametrize("data", WELL_FORMED)
def test_response_fed_one_byte_at_a_time(data: bytes) -> None:
    parser = ResponseParser()
    for index in range(len(data) - 1):
        parser.receive(data[index : index + 1])
        assert parser.next_response() is None, index
    parser.receive(data[-1:])
    assert parser.next_response() == parse(data)


@pytest.mark.parametrize("data", WELL_FORMED)
def test_extra_bytes_after_the_response_make_it_unclean(data: bytes) -> None:
    parser = ResponseParser()
    parser.receive(data + b"HTTP/1.1 200 OK\r\n")
    assert parser.next_response() == parse(data)
    assert not parser.clean


def test_eof_after_a_complete_response_still_gives_it_but_unclean() -> None:
    parser = ResponseParser()
    parser.receive(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    parser.receive_eof()
    response = parser.next_response()
    assert response is not None
    assert response.body == b"ok"
    assert not parser.clean


# -- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status_line",
    [
        b"garbage",
        b"HTCPCP/1.0 418 I'm a teapot",
        b"HTTP/2 200 OK",
        b"HTTP/1.2 200 OK",
        b"http/1.1 200 OK",
        b"HTTP/1.1 20 OK",
        b"HTTP/1.1 2000 OK",
        b"HTTP/1.1 099 Low",
        b"HTTP/1.1  200 OK",
        b" HTTP/1.1 200 OK",
    ],
)
def test_garbage_status_line(status_line: bytes) -> None:
    assert "status line" in parse_error(status_line + b"\r\nContent-Length: 0\r\n\r\n")


@pytest.mark.parametrize(
    "line",
    [b"NoColon", b"Bad Name: v", b"Name : v", b": v", b"X\0: v", b"\x80: v"],
)
def test_malformed_header_line(line: bytes) -> None:
    assert "malformed header line" in parse_error(b"HTTP/1.1 200 OK\r\n" + line + b"\r\nContent-Length: 0\r\n\r\n")


def test_a_fold_with_no_header_before_it() -> None:
    assert "folded" in parse_error(b"HTTP/1.1 200 OK\r\n folded\r\nContent-Length: 0\r\n\r\n")


@pytest.mark.parametrize(
    "lengths",
    [
        b"Content-Length: 1\r\nContent-Length: 2",
        b"Content-Length: 1, 2",
        b"Content-Length: 1,",
        b"Content-Length: abc",
        b"Content-Length: -1",
        b"Content-Length: +1",
        b"Content-Length: 0x10",
        b"Content-Length: 1.0",
        b"Content-Length: ",
        b"Content-Length: \xd9\xa3",  # ARABIC-INDIC DIGIT THREE: a digit to str.isdigit, not to HTTP
    ],
)
def test_conflicting_or_non_numeric_content_length(lengths: bytes) -> None:
    assert "invalid Content-Length" in parse_error(b"HTTP/1.1 200 OK\r\n" + lengths + b"\r\n\r\nab")


@pytest.mark.parametrize("digits", [b"1" + b"0" * 5000, b"0" * 5000 + b"2"])
def test_a_content_length_with_thousands_of_digits_is_a_protocol_error(digits: bytes) -> None:
    # Well inside MAX_HEAD_SIZE, but int() refuses strings over 4300 digits with a
    # ValueError, which the transport (it catches ProtocolError) would let escape.
    parser = ResponseParser()
    parser.receive(b"HTTP/1.1 200 OK\r\nContent-Length: " + digits + b"\r\n\r\nok")
    with pytest.raises(ProtocolError):
        parser.next_response()


def test_eof_before_any_byte() -> None:
    assert "closed the connection before sending a response" in parse_error(b"", eof=True)


def test_eof_after_an_informational_response_only() -> None:
    assert "before sending a response" in parse_error(b"HTTP/1.1 100 Continue\r\n\r\n", eof=True)


@pytest.mark.parametrize("data", [b"H", b"HTTP/1.1 200 OK", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"])
def test_eof_in_the_middle_of_the_head(data: bytes) -> None:
    assert "in the middle of the response head" in parse_error(data, eof=True)


@pytest.mark.parametrize(
    "data",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhell",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nT: 1\r\n",
    ],
)
def test_eof_in_the_middle_of_the_body(data: bytes) -> None:
    parser = ResponseParser()
    parser.receive(data)
    assert parser.next_response() is None  # incomplete, not wrong
    parser.receive_eof()
    with pytest.raises(ProtocolError, match="before the end of the response body"):
        parser.next_response()


@pytest.mark.parametrize("size_line", [b"zz", b"", b"-1", b"+5", b" 5", b"0x5", b"5 x", b"1" + b"0" * 16, b"5\r\r"])
def test_bad_chunk_size_line(size_line: bytes) -> None:
    data = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + size_line + b"\r\nhello\r\n0\r\n\r\n"
    assert "invalid chunk size line" in parse_error(data)


@pytest.mark.parametrize("after", [b"X\r\n0\r\n\r\n", b"\rX0\r\n\r\n", b"!!"])
def test_chunk_data_not_followed_by_crlf(after: bytes) -> None:
    data = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello" + after
    assert "not followed by CRLF" in parse_error(data)


def test_chunk_size_line_without_an_end() -> None:
    data = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;" + b"x" * 2000
    assert "malformed chunked body" in parse_error(data)


def test_head_larger_than_max_head_size() -> None:
    parser = ResponseParser()
    parser.receive(b"HTTP/1.1 200 OK\r\nX-Big: ")
    parser.receive(b"a" * (MAX_HEAD_SIZE - 100))
    assert parser.next_response() is None  # still within the limit: wait
    parser.receive(b"a" * 200)
    with pytest.raises(ProtocolError, match="head too large"):
        parser.next_response()


def test_content_length_above_max_body_size() -> None:
    # Refused from the head alone, before any of the body is buffered.
    assert "too large" in parse_error(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (MAX_BODY_SIZE + 1))
    parser = ResponseParser()
    parser.receive(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % MAX_BODY_SIZE)
    assert parser.next_response() is None  # the limit itself is allowed


def test_chunk_above_max_body_size() -> None:
    data = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n" % (MAX_BODY_SIZE + 1)
    assert "too large" in parse_error(data)


# -- h11 as an oracle ----------------------------------------------------------------------

# h11 writes these itself (framing) or moves them (Host goes first), and Connection would end keep-alive.
_RESERVED = {b"content-length", b"transfer-encoding", b"connection", b"host", b"keep-alive", b"te", b"upgrade"}
_TOKEN_CHARS = string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~"
_VCHARS = "".join(chr(code) for code in range(0x21, 0x7F))

header_names = (
    st.text(_TOKEN_CHARS, min_size=1, max_size=12).map(str.encode).filter(lambda n: n.lower() not in _RESERVED)
)
# Visible characters with single spaces inside: h11 refuses whitespace at the ends.
header_values = st.lists(st.text(_VCHARS, min_size=1, max_size=8), max_size=3).map(lambda w: " ".join(w).encode())


def h11_response(
    status: int, reason: bytes, headers: list[tuple[bytes, bytes]], chunks: list[bytes], chunked: bool
) -> bytes:
    """The bytes an h11 server writes for this response to ``GET /``."""
    server = h11.Connection(h11.SERVER)
    server.receive_data(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert isinstance(server.next_event(), h11.Request)
    assert isinstance(server.next_event(), h11.EndOfMessage)
    body = b"".join(chunks)
    framing = [(b"Transfer-Encoding", b"chunked")] if chunked else [(b"Content-Length", b"%d" % len(body))]
    wire = server.send(h11.Response(status_code=status, reason=reason, headers=headers + framing)) or b""
    for chunk in chunks if chunked else [body]:
        wire += server.send(h11.Data(data=chunk)) or b""
    wire += server.send(h11.EndOfMessage()) or b""
    return wire


def h11_client_parse(wire: bytes) -> tuple[h11.Response, bytes]:
    """What an h11 client reads from ``wire``: the response and its body."""
    client = h11.Connection(h11.CLIENT)
    client.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
    client.receive_data(wire)
    head = client.next_event()
    assert isinstance(head, h11.Response)
    body = b""
    while isinstance(event := client.next_event(), h11.Data):
        body += event.data
    assert isinstance(event, h11.EndOfMessage)
    return head, body


@settings(max_examples=200, deadline=None)
@given(
    status=st.integers(200, 599).filter(lambda s: s not in (204, 304)),
    reason=st.text(string.ascii_letters + string.digits + " -'", max_size=20).map(str.encode),
    headers=st.lists(st.tuples(header_names, header_values), max_size=6),
    chunks=st.lists(st.binary(max_size=40), max_size=5),
    chunked=st.booleans(),
    data=st.data(),
)
def test_reads_what_h11_writes_in_any_pieces(
    status: int,
    reason: bytes,
    headers: list[tuple[bytes, bytes]],
    chunks: list[bytes],
    chunked: bool,
    data: st.DataObject,
) -> None:
    wire = h11_response(status, reason, headers, chunks, chunked)
    cuts = sorted(data.draw(st.sets(st.integers(1, len(wire) - 1), max_size=6), label="cuts"))

    parser = ResponseParser()
    response = None
    for start, end in zip([0, *cuts], [*cuts, len(wire)], strict=True):
        parser.receive(wire[start:end])
        response = parser.next_response()
        if end < len(wire):
            assert response is None, end
    assert response is not None

    expected_head, expected_body = h11_client_parse(wire)
    assert response.status == expected_head.status_code == status
    assert response.reason == expected_head.reason == reason
    assert response.body == expected_body == b"".join(chunks)
    assert response.headers == list(expected_head.headers.raw_items())
    # The headers given to h11 come back as written, names' case included, in order.
    assert [(n, v) for n, v in response.headers if n.lower() not in _RESERVED] == headers
    assert response.http_version == b"HTTP/1.1"
    assert response.keep_alive
    assert parser.clean
