"""The few PostgreSQL wire-protocol messages a connection proxy has to read and write.

A client opens with an 8-byte request (TLS, GSS encryption or cancel) or with
its StartupMessage (protocol 3.0: user, database, options, ...). A proxy that
refuses a connection answers with an ErrorResponse, which libpq shows as
`ERROR:  <message>`. See PostgreSQL's "Message Formats" chapter.
"""

from __future__ import annotations

import socket
import ssl
import struct

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102
PROTOCOL_3 = 196608
TLS_HANDSHAKE = 0x16  # first byte of a TLS ClientHello: `sslnegotiation=direct`

Stream = socket.socket | ssl.SSLSocket


def read_exactly(stream: Stream, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = stream.recv(size - len(data))
        if not chunk:
            raise ConnectionError("peer closed the connection")
        data += chunk
    return data


def read_startup(stream: Stream) -> tuple[int, bytes]:
    """One length-prefixed startup-phase packet: its code and the bytes after the code."""
    (length,) = struct.unpack("!I", read_exactly(stream, 4))
    if not 8 <= length <= 10_000:
        raise ConnectionError(f"bad startup packet length {length}")
    body = read_exactly(stream, length - 4)
    return struct.unpack("!I", body[:4])[0], body[4:]


def parse_parameters(payload: bytes) -> dict[str, str]:
    """A StartupMessage's name/value pairs (NUL-terminated strings, ending with an empty one)."""
    parts = payload.split(b"\x00")
    pairs = [part.decode() for part in parts]
    return {pairs[i]: pairs[i + 1] for i in range(0, len(pairs) - 1, 2) if pairs[i]}


def startup_message(parameters: dict[str, str]) -> bytes:
    body = struct.pack("!I", PROTOCOL_3)
    for name, value in parameters.items():
        body += name.encode() + b"\x00" + value.encode() + b"\x00"
    body += b"\x00"
    return struct.pack("!I", len(body) + 4) + body


def ssl_request() -> bytes:
    return struct.pack("!II", 8, SSL_REQUEST)


def error_response(message: str, sqlstate: str = "XX000") -> bytes:
    """A FATAL-class ErrorResponse; Neon's proxy sends its own errors with XX000."""
    fields = b""
    for code, value in (("S", "ERROR"), ("V", "ERROR"), ("C", sqlstate), ("M", message)):
        fields += code.encode() + value.encode() + b"\x00"
    fields += b"\x00"
    return b"E" + struct.pack("!I", len(fields) + 4) + fields


def split_endpoint_option(options: str) -> tuple[str | None, str]:
    """Neon's `endpoint=<id>` (or older `project=<id>`) taken out of libpq `options`.

    Returns the endpoint ID and the options left for PostgreSQL, which would
    refuse the Neon-only word.
    """
    endpoint, kept = None, []
    for word in options.split():
        name, _, value = word.partition("=")
        if name in {"endpoint", "project"} and value:
            endpoint = value
        else:
            kept.append(word)
    return endpoint, " ".join(kept)
