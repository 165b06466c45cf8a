"""`cq-lsp --stdio` / `cq-lsp serve --tcp --port P`: start the language server.

Its own argument parsing (pygls' helper knows no ``--stdio``). Logs go to stderr (the editor shows
them) and, from the server, to the client's log via window/logMessage — never to stdout, which
carries the protocol.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

from cq_lsp.errors import EXIT_USAGE


class _WindowLogHandler(logging.Handler):
    """cq_lsp's own records (not pygls') to the client's log, from the event loop only."""

    def __init__(self, server: object) -> None:
        super().__init__(logging.INFO)
        self.server = server

    def emit(self, record: logging.LogRecord) -> None:
        import asyncio

        from lsprotocol import types

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # a worker thread: stderr has it; pygls' writer is not thread-safe
        if loop is None or record.name.startswith("pygls"):
            return
        level = (
            types.MessageType.Error
            if record.levelno >= logging.ERROR
            else types.MessageType.Warning
            if record.levelno >= logging.WARNING
            else types.MessageType.Info
        )
        try:
            self.server.window_log_message(  # type: ignore[attr-defined]
                types.LogMessageParams(type=level, message=self.format(record))
            )
        except Exception:
            pass


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="cq-lsp serve", description="the cq-lsp language server")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--stdio", action="store_true", help="talk LSP on stdin/stdout (default)")
    mode.add_argument("--tcp", action="store_true", help="listen on a TCP port")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=2087)
    p.add_argument("--log-level", default="info", choices=["error", "warning", "info", "debug"])
    p.add_argument("--log-file", default=None, help="also log to this file")
    return p.parse_args(list(argv))


def serve_stdio(server: Any) -> None:
    """pygls' stdio server with our reader: stdin read by the event loop when it is a pipe (an
    editor's case), and resynchronised after a malformed header (cq_lsp.lsp.protocol)."""
    import asyncio
    import threading

    from pygls.io_ import StdoutWriter, run_async

    from cq_lsp.lsp.protocol import ResyncStdin, open_stdin_pipe

    stdin = sys.stdin.buffer
    # What LanguageServer.start_io does, but with our reader (pygls has no parameter for one):
    # its shutdown() sets this event to end the loop.
    server._stop_event = stop = threading.Event()
    server.protocol.set_writer(StdoutWriter(sys.stdout.buffer))

    async def serve() -> None:
        try:
            reader: Any = await open_stdin_pipe(stdin)
        except (OSError, ValueError):  # a file or a terminal: pygls' threaded reader
            from pygls.io_ import StdinAsyncReader

            reader = StdinAsyncReader(ResyncStdin(stdin), server.thread_pool)  # type: ignore[arg-type]
        await run_async(
            stop_event=stop,
            reader=reader,
            protocol=server.protocol,
            logger=logging.getLogger("pygls.server"),
            error_handler=server.report_server_error,
        )

    try:
        asyncio.run(serve())
    except BrokenPipeError:
        logging.getLogger(__name__).error("the editor closed the connection: shutting down")
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.shutdown()


def main(argv: Sequence[str]) -> int:
    try:
        args = parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0) and EXIT_USAGE
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if args.log_file:
        handlers.append(logging.FileHandler(args.log_file, encoding="utf-8"))
    logging.basicConfig(
        level=logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
    )
    logging.getLogger("cq_lsp").setLevel(args.log_level.upper())

    from cq_lsp.lsp.server import create_server

    server = create_server()
    window = _WindowLogHandler(server)
    window.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.getLogger("cq_lsp").addHandler(window)
    if args.tcp:
        server.start_tcp(args.host, args.port)
    else:
        serve_stdio(server)
    return 0
