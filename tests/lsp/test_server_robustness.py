"""The language server answers every request and never goes deaf: bad params, a notification sent
as a request, malformed headers, and floods of saves and watched-file changes.

A raw JSON-RPC client over the real server's stdio (pytest-lsp's client cannot send malformed
frames). Floods are followed by a ``cq.status`` that must be answered at all (the time it takes
is measured by bench/bench_server.py, not asserted here).
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Cq, run_git

ANSWER_TIMEOUT_S = 60.0  # generous: a loaded CI machine; the budget lives in the benchmark


class RawClient:
    def __init__(self, root: Path, env: dict[str, str], log: Path) -> None:
        self.log = log
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cq_lsp", "--stdio"],
            cwd=root,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(log, "wb"),
        )
        self.buf = b""
        self.next_id = 1000
        self.seen: list[dict[str, Any]] = []

    def send_raw(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        self.send_raw(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def notify(self, method: str, params: Any) -> None:
        self.send({"method": method, "params": params})

    def request(self, method: str, params: Any = None, *, absent: bool = False) -> dict[str, Any]:
        self.next_id += 1
        msg: dict[str, Any] = {"id": self.next_id, "method": method}
        if not absent:
            msg["params"] = params
        self.send(msg)
        return self.wait_for(self.next_id)

    def wait_for(self, msg_id: int, timeout: float = ANSWER_TIMEOUT_S) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for m in self.seen:
                if m.get("id") == msg_id and "method" not in m:
                    return m
            self._read(0.1)
        raise AssertionError(
            f"no answer to request {msg_id} within {timeout} s; server alive: "
            f"{self.proc.poll() is None}; its log ends: {self.log.read_text()[-1500:]}"
        )

    def _read(self, timeout: float) -> None:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        ready, _, _ = select.select([fd], [], [], timeout)
        if ready:
            data = os.read(fd, 1 << 20)
            if not data:
                return
            self.buf += data
        while b"\r\n\r\n" in self.buf:
            head, rest = self.buf.split(b"\r\n\r\n", 1)
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
            if len(rest) < length:
                return
            message = json.loads(rest[:length])
            self.buf = rest[length:]
            if message.get("method") == "workspace/configuration" or (
                "method" in message and "id" in message
            ):
                self.send({"id": message["id"], "result": None})  # requests from the server
                continue
            self.seen.append(message)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.request("shutdown", absent=True)
                self.notify("exit", None)
                self.proc.wait(timeout=20)
            except (AssertionError, OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def server(cq: Cq, repo: Path, tmp_path: Path) -> Iterator[RawClient]:
    cq.run("init")
    cq.run("config", "set", "processing.mode", "manual")
    cq.run("config", "set", "processing.debounce_ms", "0")
    client = RawClient(repo, cq.env, tmp_path / "server.log")
    uri = repo.as_uri()
    answer = client.request(
        "initialize",
        {
            "processId": os.getpid(),
            "rootUri": uri,
            "capabilities": {"workspace": {"didChangeWatchedFiles": {}}},
            "workspaceFolders": [{"uri": uri, "name": "shop"}],
        },
    )
    assert "result" in answer, answer
    client.notify("initialized", {})
    yield client
    client.close()


def _status(client: RawClient) -> dict[str, Any]:
    answer = client.request("workspace/executeCommand", {"command": "cq.status", "arguments": []})
    assert "result" in answer, answer
    return answer["result"]


def test_every_bad_request_gets_an_error(server: RawClient, repo: Path) -> None:
    cases = [
        ("textDocument/hover", None, -32602),
        ("workspace/executeCommand", None, -32602),
        ("workspace/executeCommand", [], -32602),
        ("workspace/symbol", 5, -32602),
        ("textDocument/didSave", {"textDocument": {"uri": (repo / "a.py").as_uri()}}, -32601),
        ("initialized", {}, -32601),
    ]
    for method, params, code in cases:
        answer = server.request(method, params)
        assert answer.get("error", {}).get("code") == code, (method, params, answer)
    big = server.request(
        "workspace/executeCommand", {"command": "cq.search", "arguments": ["x" * 20_000_000]}
    )
    assert big.get("error", {}).get("code") == -32602, str(big)[:300]
    assert _status(server)["root"] == str(repo)


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(
            b'Content-Length: 5\r\n\r\n{"jsonrpc": "2.0", "id": 1, "method": "x"}', id="short"
        ),
        pytest.param(b'Content-Length: -5\r\n\r\n{"jsonrpc": "2.0", "method": "x"}', id="negative"),
        pytest.param(b'Content-Length: abc\r\n\r\n{"jsonrpc": "2.0", "method": "x"}', id="nan"),
        pytest.param(b'\r\n{"jsonrpc": "2.0", "method": "x"}', id="missing"),
        pytest.param(b"\x00\xffgarbage\r\nmore garbage without an end", id="garbage"),
    ],
)
def test_a_malformed_header_costs_one_message_not_all(server: RawClient, frame: bytes) -> None:
    server.send_raw(frame)
    # The next well-formed messages are answered (the first may be swallowed with the junk).
    server.next_id += 1
    lost = server.next_id
    server.send(
        {
            "id": lost,
            "method": "workspace/executeCommand",
            "params": {"command": "cq.status", "arguments": []},
        }
    )
    assert _status(server)["health"] in ("ok", "warning")
    assert _status(server)["health"] in ("ok", "warning")
    assert "malformed" in server.log.read_text() or "Unable to handle" in server.log.read_text()


def test_floods_of_saves_and_watched_changes_leave_status_answering(
    server: RawClient, repo: Path
) -> None:
    gen = repo / "gen"
    gen.mkdir()
    for i in range(1000):
        (gen / f"m{i}.py").write_text(f"def f_{i}():\n    return {i}\n")
    run_git(repo, "add", "-A")
    run_git(repo, "commit", "-qm", "files")
    for i in range(5000):
        uri = (gen / f"m{i % 1000}.py").as_uri()
        server.notify("textDocument/didSave", {"textDocument": {"uri": uri}})
    assert _status(server)["root"] == str(repo)
    changes = [{"uri": (gen / f"m{i % 1000}.py").as_uri(), "type": 2} for i in range(200_000)]
    server.notify("workspace/didChangeWatchedFiles", {"changes": changes})
    assert _status(server)["root"] == str(repo)
    # The saves were not dropped: they reach the ledger (coalesced).
    deadline = time.monotonic() + ANSWER_TIMEOUT_S
    while time.monotonic() < deadline and _status(server)["queue"]["queued"] < 1000:
        time.sleep(0.2)
    assert _status(server)["queue"]["queued"] >= 1000
