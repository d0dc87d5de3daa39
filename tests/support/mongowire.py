"""Just enough of the MongoDB wire protocol for the test proxies.

A message is a 16-byte header (int32 messageLength, requestID, responseTo,
opCode) and a payload. Only three opcodes are taken apart:

    OP_MSG   (2013)  flagBits, sections (kind 0: one BSON body; kind 1: int32
                     size, cstring identifier, BSON documents), optional CRC-32C
    OP_QUERY (2004)  legacy; drivers still send their first ``hello`` this way
    OP_REPLY (1)     the answer to an OP_QUERY

Documents stay as bytes (or ``RawBSONDocument``) unless a caller has to look
inside, so forwarding costs no decoding.
"""

from __future__ import annotations

import asyncio
import struct

import bson
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument

OP_REPLY = 1
OP_QUERY = 2004
OP_COMPRESSED = 2012
OP_MSG = 2013

CHECKSUM_PRESENT = 1 << 0
MORE_TO_COME = 1 << 1

HEADER = struct.Struct("<iiii")
_INT32 = struct.Struct("<i")
_UINT32 = struct.Struct("<I")
_REPLY_PREFIX = struct.Struct("<iqii")  # responseFlags, cursorID, startingFrom, numberReturned

RAW = CodecOptions(document_class=RawBSONDocument)

MAX_MESSAGE = 64 * 1024 * 1024  # well above maxMessageSizeBytes (48 MB)


class WireError(Exception):
    """A message that cannot be a MongoDB message (bad length or section)."""


async def read_message(reader: asyncio.StreamReader) -> tuple[tuple[int, int, int, int], bytes]:
    """One message: ``((length, request_id, response_to, opcode), payload)``.
    Raises ``asyncio.IncompleteReadError`` at end of stream."""
    header = await reader.readexactly(16)
    fields = HEADER.unpack(header)
    if not 16 <= fields[0] <= MAX_MESSAGE:
        raise WireError(f"message length {fields[0]} out of range")
    return fields, await reader.readexactly(fields[0] - 16)


def pack(request_id: int, response_to: int, opcode: int, payload: bytes) -> bytes:
    return HEADER.pack(16 + len(payload), request_id, response_to, opcode) + payload


def first_key(doc: bytes, offset: int = 0) -> str:
    """The name of a BSON document's first field (a command's name)."""
    start = offset + 5
    return doc[start:doc.index(b"\0", start)].decode("utf-8", "replace")


def split_documents(buf: bytes, start: int, end: int) -> list[bytes]:
    docs = []
    while start < end:
        size = _INT32.unpack_from(buf, start)[0]
        if size < 5 or start + size > end:
            raise WireError("BSON document overruns its section")
        docs.append(buf[start:start + size])
        start += size
    return docs


class OpMsg:
    """An OP_MSG payload taken apart: ``flags``, the kind-0 ``body`` bytes and
    the kind-1 ``sequences`` (identifier -> list of document bytes)."""

    __slots__ = ("flags", "body", "sequences")

    def __init__(self, flags: int, body: bytes, sequences: dict[str, list[bytes]]):
        self.flags = flags
        self.body = body
        self.sequences = sequences

    @classmethod
    def parse(cls, payload: bytes) -> "OpMsg":
        flags = _UINT32.unpack_from(payload, 0)[0]
        end = len(payload) - (4 if flags & CHECKSUM_PRESENT else 0)
        pos, body, sequences = 4, None, {}
        while pos < end:
            kind = payload[pos]
            pos += 1
            size = _INT32.unpack_from(payload, pos)[0]
            if size < 5 or pos + size > end:
                raise WireError("OP_MSG section overruns the message")
            if kind == 0:
                body = payload[pos:pos + size]
            elif kind == 1:
                name_end = payload.index(b"\0", pos + 4)
                ident = payload[pos + 4:name_end].decode()
                sequences[ident] = split_documents(payload, name_end + 1, pos + size)
            else:
                raise WireError(f"unknown OP_MSG section kind {kind}")
            pos += size
        if body is None:
            raise WireError("OP_MSG without a body section")
        return cls(flags, body, sequences)

    @property
    def command(self) -> str:
        return first_key(self.body)

    def payload(self) -> bytes:
        """Serialised again, always without a checksum."""
        parts = [_UINT32.pack(self.flags & ~CHECKSUM_PRESENT), b"\0", self.body]
        for ident, docs in self.sequences.items():
            name = ident.encode() + b"\0"
            parts += [b"\1", _INT32.pack(4 + len(name) + sum(map(len, docs))), name, *docs]
        return b"".join(parts)


def op_msg_payload(doc, flags: int = 0) -> bytes:
    """An OP_MSG payload with one body section: ``doc`` is a mapping or BSON bytes."""
    body = doc if isinstance(doc, bytes) else bson.encode(doc)
    return _UINT32.pack(flags) + b"\0" + body


def op_query_command(payload: bytes) -> tuple[str, str] | None:
    """``(collection, command name)`` of an OP_QUERY on ``<db>.$cmd``, else None.
    Unwraps ``{$query: {...}}``."""
    name_end = payload.index(b"\0", 4)
    collection = payload[4:name_end].decode("utf-8", "replace")
    if not collection.endswith(".$cmd"):
        return None
    query_at = name_end + 1 + 8
    name = first_key(payload, query_at)
    if name == "$query":
        # The wrapped command is the first field's value: type byte, key, then the document.
        name = first_key(payload, query_at + 4 + 1 + len("$query") + 1)
    return collection, name


def appname(hello) -> str:
    """The application name a client's handshake gives (``client.application.name``), or ''."""
    try:
        name = hello.get("$query", hello)["client"]["application"]["name"]
    except (KeyError, TypeError):
        return ""
    return name if isinstance(name, str) else ""


def op_query_appname(payload: bytes) -> str:
    """``appname`` of an OP_QUERY handshake ('' when it names none or cannot be read)."""
    try:
        name_end = payload.index(b"\0", 4)
        query_at = name_end + 1 + 8
        size = int.from_bytes(payload[query_at:query_at + 4], "little")
        return appname(RawBSONDocument(payload[query_at:query_at + size]))
    except (ValueError, bson.errors.BSONError):
        return ""


def op_reply_first(payload: bytes) -> tuple[bytes, bytes, list[bytes]]:
    """Split an OP_REPLY payload into (prefix, first document, the others)."""
    docs = split_documents(payload, _REPLY_PREFIX.size, len(payload))
    if not docs:
        raise WireError("OP_REPLY without documents")
    return payload[:_REPLY_PREFIX.size], docs[0], docs[1:]
