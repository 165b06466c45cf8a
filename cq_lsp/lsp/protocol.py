"""The JSON-RPC edge of the language server: every request is answered, framing errors heal.

pygls (2.1) leaves two ways to silence the server:

- a request whose params do not fit its method (``textDocument/hover`` with null params,
  ``workspace/symbol`` with ``5``) fails to deserialise and is only logged; a notification's
  method sent with an id is handled as the notification. The client waits forever for an
  answer. ``CqProtocol`` answers both with a JSON-RPC error (-32602, -32601).
- its stdio reader recognises a header only when the line is exactly ``Content-Length: N``;
  after one malformed header (too short, negative, non-numeric, missing) the rest of a body and
  the next header arrive as one line, and so do all that follow: the server is alive and deaf.
  ``ResyncStdin`` hands pygls the ``Content-Length`` header at the end of such a line (a JSON
  body never holds a raw CR LF, so that header is the next message's), logging what it dropped.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any, BinaryIO

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.protocol import LanguageServerProtocol

log = logging.getLogger(__name__)

#: A body larger than this is refused (its bytes are skipped up to the next header): pygls would
#: read it whole into memory first. 200,000 watched-file changes are ~25 MB.
MAX_BODY_BYTES = 128 * 1024 * 1024
_HEADER = re.compile(rb"Content-Length: *(\d+)\r\n\Z")
_ANY_LENGTH = re.compile(rb"Content-Length:", re.IGNORECASE)
METHOD_NOT_FOUND = -32601


class _Unanswered:
    """A request that cannot be handled: what ``handle_message`` answers instead."""

    jsonrpc = "2.0"

    def __init__(self, msg_id: Any, code: int, message: str) -> None:
        self.id = msg_id
        self.error = types.ResponseError(code=code, message=message)


class CqProtocol(LanguageServerProtocol):
    def structure_message(self, data: dict[str, Any]) -> Any:
        # json.loads calls this for every object in a message, innermost first.
        if "jsonrpc" not in data or "id" not in data or "method" not in data:
            return super().structure_message(data)
        method = data.get("method")
        msg_id = data["id"]
        try:
            message = super().structure_message(data)
        except JsonRpcException as exc:
            return _Unanswered(msg_id, exc.code, f"{method}: {exc.message.lower()}")
        if not hasattr(message, "id"):
            return _Unanswered(
                msg_id,
                METHOD_NOT_FOUND,
                f"{method} is a notification: send it without an id",
            )
        return message

    def handle_message(self, message: Any) -> None:
        if isinstance(message, _Unanswered):
            log.warning("request %r refused: %s", message.id, message.error.message)
            self._send_response(message.id, error=message.error)
            return
        super().handle_message(message)


def _header(line: bytes, dropped: int) -> bytes | None:
    """The line pygls should see for a raw input ``line`` ending in LF, or None to read on
    (``dropped``: bytes of junk already skipped before it, for the log)."""
    match = _HEADER.search(line)
    if match is not None:
        dropped += match.start()
        if dropped:
            log.error("discarded %d bytes of malformed LSP input before a header", dropped)
        length = int(match.group(1))
        if length > MAX_BODY_BYTES:
            log.error(
                "an LSP message of %d bytes is over the %d-byte limit: skipped",
                length,
                MAX_BODY_BYTES,
            )
            return b"X-Skipped: too large\r\n"
        return b"Content-Length: %d\r\n" % length
    if _ANY_LENGTH.search(line):
        log.error("malformed LSP header %r: skipping to the next valid message", line[:80])
        return b"X-Skipped: malformed\r\n"
    if dropped:
        log.error("discarded %d bytes of malformed LSP input", dropped)
    return line


class ResyncStdin:
    """stdin for pygls' own (threaded) reader, resynchronising after a malformed header."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream

    def read(self, n: int) -> bytes:
        return self.stream.read(n)

    def readline(self) -> bytes:
        dropped = 0
        while True:
            line = self.stream.readline(MAX_BODY_BYTES + 1024)
            if not line:
                return line
            if not line.endswith(b"\n"):
                dropped += len(line)  # no line end within the limit: junk, keep looking
                continue
            out = _header(line, dropped)
            if out is not None:
                return out


class PipeReader:
    """stdin read by the event loop itself (a pipe), resynchronising like ``ResyncStdin``.

    pygls' reader hands every header line and body to a thread and back (three round trips a
    message): 5,000 saves in a second then queue up for seconds in front of a request. Read on
    the loop, a message costs what handling it costs.
    """

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self.reader = reader

    async def readline(self) -> bytes:
        dropped = 0
        while True:
            try:
                line = await self.reader.readline()
            except ValueError:  # a line over the limit; asyncio dropped it
                dropped += MAX_BODY_BYTES
                continue
            if not line:
                return line
            if not line.endswith(b"\n"):
                return b""  # input ended mid-line
            out = _header(line, dropped)
            if out is not None:
                return out

    async def readexactly(self, n: int) -> bytes:
        try:
            return await self.reader.readexactly(n)
        except asyncio.IncompleteReadError:
            return b""


async def open_stdin_pipe(stdin: BinaryIO) -> PipeReader:
    """A ``PipeReader`` on ``stdin``; OSError/ValueError when it is not a pipe or socket."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=MAX_BODY_BYTES + 1024, loop=loop)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), stdin)
    return PipeReader(reader)
