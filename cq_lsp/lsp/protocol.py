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


class ResyncStdin:
    """stdin for pygls' reader, resynchronising after a malformed header (see module doc)."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream

    def read(self, n: int) -> bytes:
        return self.stream.read(n)

    def readline(self) -> bytes:
        dropped = 0
        while True:
            line = self.stream.readline(MAX_BODY_BYTES + 1024)
            if not line:
                if dropped:
                    log.error("input ended inside %d bytes of malformed LSP input", dropped)
                return line
            if not line.endswith(b"\n"):
                dropped += len(line)  # no line end within the limit: junk, keep looking
                continue
            match = _HEADER.search(line)
            if match is not None:
                head = line[: match.start()]
                if head:
                    self._dropped(dropped + len(head), "before a Content-Length header")
                elif dropped:
                    self._dropped(dropped, "before a Content-Length header")
                if int(match.group(1)) > MAX_BODY_BYTES:
                    log.error(
                        "an LSP message of %s bytes is over the %d-byte limit: skipped",
                        match.group(1).decode(),
                        MAX_BODY_BYTES,
                    )
                    return b"X-Skipped: too large\r\n"
                return b"Content-Length: %d\r\n" % int(match.group(1))
            if _ANY_LENGTH.search(line):
                log.error(
                    "malformed LSP header %r: skipping to the next valid message",
                    line[:80],
                )
                return b"X-Skipped: malformed\r\n"
            if dropped:
                self._dropped(dropped, "")
            return line

    @staticmethod
    def _dropped(n: int, where: str) -> None:
        log.error("discarded %d bytes of malformed LSP input %s", n, where)
