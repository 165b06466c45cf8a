"""Drive the real language server (`python -m cq_lsp --stdio`) the way an editor does.

pytest-lsp's client speaks the protocol to a real server process; these helpers add what an
editor adds: workspace folders, initializationOptions, and a record of every `cq/status`.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from lsprotocol import types
from pytest_lsp import client_capabilities
from pytest_lsp.plugin import make_test_lsp_client

#: initializationOptions that keep the tests quick: saves wait 50 ms, not the default second.
FAST = {"config": {"processing": {"debounce_ms": 50}}}


def drained(status: dict[str, Any]) -> bool:
    """A cq/status with nothing queued or running, and something documented."""
    q = status["queue"]
    return q["queued"] == 0 and q["running"] == 0 and q["done"] > 0


def plain(value: Any) -> Any:
    """pygls hands custom notification params over as named tuples; tests want dicts."""
    if hasattr(value, "_asdict"):
        return {k: plain(v) for k, v in value._asdict().items()}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


class Session:
    def __init__(self, client: Any, result: types.InitializeResult) -> None:
        self.client = client
        self.result = result
        self.statuses: list[dict[str, Any]] = client.cq_statuses

    def latest(self, root: Path) -> dict[str, Any] | None:
        for st in reversed(self.statuses):
            if st.get("root") == str(root):
                return st
        return None

    async def wait_status(
        self, root: Path, pred: Callable[[dict[str, Any]], bool], timeout: float = 30.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = self.latest(root)
            if st is not None and pred(st):
                return st
            await asyncio.sleep(0.05)
        raise AssertionError(
            f"no cq/status for {root} matched within {timeout} s; last: {self.latest(root)}"
        )

    async def wait_message(self, text: str, timeout: float = 10.0) -> str:
        """The first window/showMessage containing ``text``; it may trail the cq/status that
        reports the same trouble (they are two notifications, read one at a time)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for m in self.client.messages:
                if text in m.message:
                    return str(m.message)
            await asyncio.sleep(0.05)
        shown = [m.message for m in self.client.messages]
        raise AssertionError(f"no message containing {text!r} within {timeout} s; shown: {shown}")

    async def eventually(
        self, name: str, *arguments: Any, until: Callable[[Any], bool], timeout: float = 30.0
    ) -> Any:
        """Run a command until its result satisfies ``until`` (errors count as not yet)."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            try:
                last = await self.command(name, *arguments)
                if until(last):
                    return last
            except Exception as exc:  # e.g. "not documented yet"
                last = exc
            await asyncio.sleep(0.1)
        raise AssertionError(f"{name} never satisfied the condition; last: {last!r}")

    async def command(self, name: str, *arguments: Any) -> Any:
        result = await self.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=name, arguments=list(arguments))
        )
        return plain(result)

    def open(self, path: Path, text: str | None = None, language: str = "python") -> str:
        uri = path.as_uri()
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri,
                    language_id=language,
                    version=1,
                    text=path.read_text() if text is None else text,
                )
            )
        )
        return uri

    def save(self, path: Path) -> None:
        self.client.text_document_did_save(
            types.DidSaveTextDocumentParams(
                text_document=types.TextDocumentIdentifier(uri=path.as_uri())
            )
        )


def server_env(base: dict[str, str]) -> dict[str, str]:
    env = dict(base)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@asynccontextmanager
async def lsp_session(
    folders: list[Path],
    env: dict[str, str],
    *,
    options: dict[str, Any] | None = None,
    editor: str = "visual-studio-code",
    process_id: int | None = None,
    configuration: dict[str, Any] | None = None,
    shutdown: bool = True,
) -> AsyncIterator[Session]:
    client = make_test_lsp_client()
    client.cq_statuses = []
    if configuration is not None:
        client.set_configuration(configuration, section="cq")

    client.cq_registrations = []

    @client.feature("cq/status")
    def on_status(params: Any) -> None:
        client.cq_statuses.append(plain(params))

    # pytest-lsp's client advertises dynamic registration but does not answer it; an editor does.
    @client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def on_register(params: types.RegistrationParams) -> None:
        client.cq_registrations.extend(params.registrations)

    cwd = str(folders[0]) if folders else os.getcwd()
    await client.start_io(sys.executable, "-m", "cq_lsp", "--stdio", env=server_env(env), cwd=cwd)
    caps = client_capabilities(editor)
    result = await client.initialize_session(
        types.InitializeParams(
            capabilities=caps,
            process_id=process_id if process_id is not None else os.getpid(),
            root_uri=folders[0].as_uri() if folders else None,
            workspace_folders=[types.WorkspaceFolder(uri=f.as_uri(), name=f.name) for f in folders],
            initialization_options=options,
        )
    )
    session = Session(client, result)
    try:
        yield session
    finally:
        if shutdown:
            await client.shutdown_session()
