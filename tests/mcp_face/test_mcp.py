"""`cq-lsp mcp` driven by the MCP SDK's own client, as an agent host would drive it.

The server is the real program started as a subprocess (stdio), or listening on loopback
(streamable HTTP); the index is a real one, documented by the real worker.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError

from tests.conftest import Cq, run_git

pytestmark = pytest.mark.timeout(180)

TOOLS = {
    "search",
    "find_symbol",
    "get_file",
    "get_status",
    "index",
    "find_files_needing_catchup",
    "search_files",
    "search_full_content",
    "insert_file_documentation",
    "update_file_documentation",
}


@asynccontextmanager
async def mcp_session(
    root: Path, env: dict[str, str], *extra: str, cwd: Path | None = None
) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "cq_lsp", "mcp", *extra],
        env=env,
        cwd=str(cwd or root),
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


async def call(session: ClientSession, name: str, args: dict[str, Any]) -> dict[str, Any]:
    """A tool call that must succeed; its structured result (also checked against the text)."""
    res = await session.call_tool(name, args)
    text = res.content[0].text  # type: ignore[union-attr]
    assert not res.is_error, f"{name}({args}) failed: {text}"
    assert json.loads(text) == res.structured_content
    return res.structured_content  # type: ignore[return-value]


async def fails(session: ClientSession, name: str, args: Any) -> str:
    """A tool call that must fail as a tool error (the agent reads why); returns the message."""
    res = await session.call_tool(name, args)
    text = res.content[0].text  # type: ignore[union-attr]
    assert res.is_error, f"{name}({args}) should have failed: {text}"
    assert "hint:" in text, f"no hint in {text!r}"
    return text


@pytest.fixture
def indexed(repo: Path, cq: Cq) -> Path:
    cq.run("init")
    cq.run("index", "--wait")
    return repo


async def test_every_tool_resource_and_prompt_over_stdio(
    indexed: Path, cq: Cq, isolated_env: dict[str, str]
) -> None:
    repo = indexed
    async with mcp_session(repo, isolated_env) as s:
        listed = (await s.list_tools()).tools
        assert {t.name for t in listed} == TOOLS
        for t in listed:
            assert t.description and t.input_schema["type"] == "object"
            assert t.input_schema["additionalProperties"] is False
            for name, prop in t.input_schema["properties"].items():
                assert prop.get("description"), f"{t.name}.{name} has no description"

        found = await call(s, "search", {"query": "parse invoice"})
        top = found["results"][0]
        assert top["path"] == "billing/invoice.py"
        assert (
            top["fresh"] is True
            and top["why"]
            and top["kind"] in ("definition", "symbol", "path", "text")
        )
        marked = re.search("«(.+?)»", top["snippet"]).group(1)  # type: ignore[union-attr]
        lines = (repo / "billing" / "invoice.py").read_text().splitlines()
        assert marked.lower() in lines[top["line"] - 1].lower()
        paths = await call(s, "search", {"query": "README", "kind": "path", "limit": 5})
        assert [(r["path"], r["kind"]) for r in paths["results"]] == [("README.md", "path")]
        kinds = {r["kind"] for r in (await call(s, "search", {"query": "invoice"}))["results"]}
        for kind in kinds:
            only = await call(s, "search", {"query": "invoice", "kind": kind})
            assert only["results"] and {r["kind"] for r in only["results"]} == {kind}

        record = await call(s, "get_file", {"path": "billing/invoice.py"})
        assert record["filepath"] == "billing/invoice.py" and "parse_invoice" in record["functions"]
        assert record["fresh"] is True and record["content_sha"]
        # code-query's argument names, and a partial path that matches one file.
        dataset = record["dataset_id"]
        same = await call(s, "get_file", {"filepath": "invoice.py", "dataset_name": dataset})
        assert same["path"] == "billing/invoice.py"

        status = await call(s, "get_status", {})
        assert status["root"] == str(repo) and status["dataset_name"] == dataset
        assert status["index"]["files"] == 4 and status["index"]["stale"] == 0

        meta = await call(s, "search_files", {"query": "invoice", "dataset_name": dataset})
        hit = meta["results"][0]
        assert set(hit) >= {"filepath", "filename", "overview", "ddd_context", "match_snippet"}
        assert hit["filepath"] == "billing/invoice.py" and "[MATCH]" in hit["match_snippet"]
        content = await call(
            s, "search_full_content", {"query": "decimal", "dataset_name": dataset}
        )
        assert [r["filepath"] for r in content["results"]] == ["billing/invoice.py"]
        assert "[MATCH]decimal[/MATCH]" in content["results"][0]["content_snippet"]

        catchup = await call(s, "find_files_needing_catchup", {})
        assert catchup["total"] == 0 and catchup["tracked"] == 4

        queued = await call(s, "index", {"paths": ["README.md"], "wait_s": 30})
        assert queued["unchanged"] == 1 and queued["queued"] == 0
        (repo / "README.md").write_text("# Sample shop\n\nNow with a quokka mascot.\n")
        waited = await call(s, "index", {"paths": ["README.md"], "wait_s": 60})
        assert waited["queued"] == 1 and waited["wait"]["done"] is True
        assert (await call(s, "search", {"query": "quokka"}))["results"][0]["path"] == "README.md"

        # Bad arguments: each a tool error that says what to do; the server stays up.
        assert "query must be a string" in await fails(s, "search", {"query": 5})
        assert "missing required argument 'query'" in await fails(s, "search", {})
        assert "limit must be from 1 to 100" in await fails(s, "search", {"query": "x", "limit": 0})
        assert "unknown argument 'bogus'" in await fails(s, "search", {"query": "x", "bogus": 1})
        assert "kind must be one of" in await fails(s, "search", {"query": "x", "kind": "klass"})
        wrong = await fails(s, "search_files", {"query": "x", "dataset_name": "other"})
        assert f'dataset_name "{dataset}"' in wrong
        outside = await fails(s, "get_file", {"path": "../../etc/passwd"})
        assert "outside" in outside or "escapes" in outside
        assert "root" in await fails(s, "get_status", {"root": "/nonexistent"})
        with pytest.raises(MCPError, match="unknown tool 'list_datasets'"):
            await s.call_tool("list_datasets", {})

        resources = (await s.list_resources()).resources
        assert [str(r.uri) for r in resources] == ["cq://status"]
        templates = (await s.list_resource_templates()).resource_templates
        assert [t.uri_template for t in templates] == ["cq://file/{path}"]
        st = json.loads((await s.read_resource("cq://status")).contents[0].text)  # type: ignore[union-attr]
        assert st["root"] == str(repo)
        doc = (await s.read_resource("cq://file/billing/invoice.py")).contents[0]
        assert json.loads(doc.text)["path"] == "billing/invoice.py"  # type: ignore[union-attr]
        with pytest.raises(MCPError, match="no such file"):
            await s.read_resource("cq://file/nowhere.py")

        prompts = (await s.list_prompts()).prompts
        assert [p.name for p in prompts] == ["document_files"]
        prompt = await s.get_prompt("document_files", {"limit": "5"})
        text = prompt.messages[0].content.text  # type: ignore[union-attr]
        assert "insert_file_documentation" in text and "find_files_needing_catchup" in text
        with pytest.raises(MCPError, match="limit must be a whole number"):
            await s.get_prompt("document_files", {"limit": "many"})

        # Deleted, and untracked-but-documented then edited: both need catching up.
        (repo / "billing" / "render.ts").unlink()
        (repo / "scratch.py").write_text("def scratch_pad():\n    pass\n")
        await call(s, "index", {"paths": ["scratch.py"], "wait_s": 60})
        (repo / "scratch.py").write_text("def scratch_pad():\n    return 1\n")
        todo = {
            f["path"]: f["reason"]
            for f in (await call(s, "find_files_needing_catchup", {}))["files"]
        }
        assert todo == {"billing/render.ts": "deleted", "scratch.py": "stale"}
        assert (await call(s, "get_status", {}))["index"]["stale"] == 2


async def test_the_agent_documents_what_needs_catching_up(
    repo: Path, cq: Cq, isolated_env: dict[str, str]
) -> None:
    (repo / ".gitignore").write_text("secret.txt\n")
    (repo / "secret.txt").write_text("password = hunter2\n")
    run_git(repo, "add", ".gitignore")
    run_git(repo, "commit", "-qm", "ignore secrets")
    cq.run("init")
    # Manual mode: no worker documents behind the agent's back until the test asks for one.
    cq.run("config", "set", "processing.mode", "manual")
    async with mcp_session(repo, isolated_env) as s:
        todo = await call(s, "find_files_needing_catchup", {})
        assert {f["path"] for f in todo["files"]} == {
            ".gitignore",
            "README.md",
            "billing/invoice.py",
            "billing/render.ts",
            "src/shipping/rates.go",
        }
        assert {f["reason"] for f in todo["files"]} == {"missing"}

        stored = await call(
            s,
            "insert_file_documentation",
            {
                "dataset_name": "shop",
                "filepath": "billing/invoice.py",
                "filename": "invoice.py",
                "overview": "Turns supplier invoice text into zanzibar-ready totals.",
                "functions": {"parse_invoice": {"signature": "parse_invoice(text)", "line": 10}},
                "dependencies": ["requests"],
            },
        )
        assert stored["processor"] == "agent" and stored["stored"] is True
        sha = stored["content_sha"]
        assert sha == run_git(repo, "hash-object", "billing/invoice.py").strip()

        hits = (await call(s, "search", {"query": "zanzibar"}))["results"]
        assert [h["path"] for h in hits] == ["billing/invoice.py"] and hits[0]["fresh"] is True
        left = await call(s, "find_files_needing_catchup", {})
        assert "billing/invoice.py" not in {f["path"] for f in left["files"]}
        assert left["total"] == 4

        await call(
            s,
            "update_file_documentation",
            {"filepath": "billing/invoice.py", "ddd_context": "billing"},
        )
        record = await call(s, "get_file", {"path": "billing/invoice.py"})
        assert record["ddd_context"] == "billing" and record["processor"] == "agent"
        assert record["overview"].startswith("Turns supplier invoice text")

        # Refusals: the guard's, the schema's, the dataset's.
        assert "secret.txt" in await fails(
            s, "insert_file_documentation", {"filepath": "secret.txt", "overview": "x"}
        )
        bad = await fails(
            s,
            "insert_file_documentation",
            {"filepath": "README.md", "overview": "x", "functions": "parse"},
        )
        assert "functions must be an object" in bad
        bad = await fails(
            s,
            "insert_file_documentation",
            {"filepath": "README.md", "overview": "x", "functions": {"f": 3}, "dependencies": [1]},
        )
        assert "dependencies[0] must be a string" in bad
        assert "has no documentation to update" in await fails(
            s, "update_file_documentation", {"filepath": "README.md", "overview": "y"}
        )

        # The user edits the file: the agent's documentation is stale, like any job's.
        with (repo / "billing" / "invoice.py").open("a") as fh:
            fh.write("\n\ndef void_invoice(number: str) -> None:\n    pass\n")
        stale = await call(s, "find_files_needing_catchup", {})
        entry = next(f for f in stale["files"] if f["path"] == "billing/invoice.py")
        assert entry["reason"] == "stale" and entry["documented_sha"] == sha
        assert entry["current_sha"] != sha
        hits = (await call(s, "search", {"query": "zanzibar"}))["results"]
        assert hits[0]["fresh"] is False and hits[0]["documented_sha"] == sha
        assert "changed since its documentation was written" in await fails(
            s, "update_file_documentation", {"filepath": "billing/invoice.py", "overview": "y"}
        )

        # The ledger recorded the agent's job; a worker's job for the new content supersedes it.
        queued = await call(s, "index", {"paths": ["billing/invoice.py"]})
        assert queued["queued"] == 1
    jobs = {j["path"]: j for j in cq.json("queue", "list")["jobs"]}
    assert jobs["billing/invoice.py"]["state"] == "queued"
    cq.run("queue", "process")
    shown = cq.json("show", "billing/invoice.py")
    assert shown["processor"] == "static" and "void_invoice" in shown["functions"]


async def test_several_roots_and_errors_before_serving(
    tmp_path: Path, cq_factory: Any, isolated_env: dict[str, str]
) -> None:
    from tests.conftest import make_repo

    a = make_repo(tmp_path / "alpha", {"a.py": "def alpha_only():\n    pass\n"})
    b = make_repo(tmp_path / "beta", {"b.py": "def beta_only():\n    pass\n"})
    for root in (a, b):
        cq_factory(root).run("init")
        cq_factory(root).run("index", "--wait")
    async with mcp_session(a, isolated_env, "--root", str(a), "--root", str(b), cwd=tmp_path) as s:
        both = await call(s, "get_status", {})
        assert both["roots"] == [str(a), str(b)]
        hits = await call(s, "search", {"query": "beta only", "root": str(b)})
        assert [h["path"] for h in hits["results"]] == ["b.py"]
        default = await call(s, "search", {"query": "alpha only"})
        assert [h["path"] for h in default["results"]] == ["a.py"]
    proc = subprocess.run(
        [sys.executable, "-m", "cq_lsp", "mcp", "--http", "--host", "0.0.0.0", "--root", str(a)],
        env={k: v for k, v in isolated_env.items() if k != "CQ_LSP_MCP_TOKEN"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "CQ_LSP_MCP_TOKEN" in proc.stderr


def _start_http(root: Path, env: dict[str, str], *extra: str) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "cq_lsp", "mcp", "--http", "--port", "0", *extra],
        cwd=root,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    line = proc.stderr.readline()
    m = re.search(r"listening on http://127\.0\.0\.1:(\d+)/mcp", line)
    if m is None:
        proc.kill()
        raise AssertionError(f"no listening line: {line!r} {proc.stderr.read()[-2000:]}")
    return proc, int(m.group(1))


def _raw_post(port: int, headers: dict[str, str]) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping"})
    base = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    conn.request("POST", "/mcp", body=body, headers={**base, **headers})
    status = conn.getresponse().status
    conn.close()
    return status


async def test_streamable_http_on_loopback_refuses_rebinding_and_checks_the_token(
    indexed: Path, isolated_env: dict[str, str]
) -> None:
    proc, port = _start_http(indexed, isolated_env)
    try:
        url = f"http://127.0.0.1:{port}/mcp"
        async with (
            streamable_http_client(url) as (read, write),
            ClientSession(read, write) as s,
        ):
            await s.initialize()
            found = await call(s, "search", {"query": "parcel rate"})
            assert found["results"][0]["path"] == "src/shipping/rates.go"
        # DNS rebinding: a page on another origin, or a name that resolves to us, is refused.
        assert _raw_post(port, {"Host": "evil.example"}) == 421
        assert _raw_post(port, {"Origin": "http://evil.example"}) == 403
    finally:
        proc.terminate()
        proc.wait(timeout=30)

    env = {**isolated_env, "CQ_LSP_MCP_TOKEN": "s3cret-token-for-tests"}
    proc, port = _start_http(indexed, env)
    try:
        assert _raw_post(port, {}) == 401
        assert _raw_post(port, {"Authorization": "Bearer wrong"}) == 401
        client = create_mcp_http_client(headers={"Authorization": "Bearer s3cret-token-for-tests"})
        async with (
            client,
            streamable_http_client(f"http://127.0.0.1:{port}/mcp", http_client=client) as (r, w),
            ClientSession(r, w) as s,
        ):
            await s.initialize()
            assert (await call(s, "get_status", {}))["root"] == str(indexed)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert os.path.isdir(indexed / ".code-query")


def test_answers_are_capped_and_say_so() -> None:
    from cq_lsp.mcp.server import cap_result

    small = {"results": [{"path": "a.py"}]}
    assert cap_result(small, 1000) == (small, json.dumps(small))
    many = {
        "query": "x",
        "results": [{"path": f"f{i}.py", "snippet": "y" * 100} for i in range(500)],
    }
    capped, text = cap_result(many, 5000)
    assert len(text) <= 5000 and json.loads(text) == capped
    assert capped["truncated"] is True and 0 < len(capped["results"]) < 500
    assert capped["results"][0]["path"] == "f0.py"  # the best hits stay
    record = {"path": "big.py", "functions": {f"f{i}": "z" * 50 for i in range(1000)}}
    capped, text = cap_result(record, 2000)
    assert len(text) <= 2000 and capped["path"] == "big.py"
    assert capped["functions"].startswith("(omitted:")


async def test_find_symbol_answers_from_the_symbol_index(
    indexed: Path, isolated_env: dict[str, str]
) -> None:
    async with mcp_session(indexed, isolated_env) as s:
        found = await call(s, "find_symbol", {"name": "ParcelRate"})
        top = found["symbols"][0]
        assert (top["name"], top["path"], top["line"]) == ("ParcelRate", "src/shipping/rates.go", 5)
        assert top["location"] == "src/shipping/rates.go:5" and top["fresh"] is True
        assert "weightKg" in top["signature"] and "price of a parcel" in top["doc"]
        method = (await call(s, "find_symbol", {"name": "InvoiceTotals.compute"}))["symbols"][0]
        assert (method["name"], method["container"], method["kind"]) == (
            "compute",
            "InvoiceTotals",
            "method",
        )
        classes = await call(s, "find_symbol", {"name": "InvoiceTotals", "kind": "class"})
        assert [c["kind"] for c in classes["symbols"]] == ["class"]
        assert "name must not be empty" in await fails(s, "find_symbol", {"name": " "})
        (indexed / "src" / "shipping" / "rates.go").write_text(
            "package shipping\n\n// moved\n\nfunc ParcelRate(w float64) float64 { return w }\n"
        )
        moved = (await call(s, "find_symbol", {"name": "ParcelRate"}))["symbols"][0]
        assert moved["fresh"] is False and moved["current_sha"] != moved["documented_sha"]
