"""workspace/symbol and hover end to end: answers from the index, marked when the file changed
since it was documented. The word under the cursor is found without a server."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types

from cq_lsp.lsp.symbols import word_at
from tests.lsp_harness import FAST, drained, lsp_session

pytestmark = pytest.mark.timeout(180)


async def test_workspace_symbols_and_hover_come_from_the_index(
    inited: Path, isolated_env: dict[str, str]
) -> None:
    user = inited / "app.py"
    user.write_text("from billing.invoice import parse_invoice\n\nparse_invoice('x')\n")
    async with lsp_session([inited], isolated_env, options=FAST) as s:
        await s.wait_status(inited, lambda st: drained(st) and st["index"]["files"] == 4)
        symbols = await s.client.workspace_symbol_async(types.WorkspaceSymbolParams(query="parse"))
        names = {(sym.name, sym.location.uri.rsplit("/", 1)[-1]) for sym in symbols}
        assert ("parse_invoice", "invoice.py") in names
        symbols = await s.client.workspace_symbol_async(
            types.WorkspaceSymbolParams(query="ParcelR")
        )
        assert [sym.name for sym in symbols] == ["ParcelRate"]
        assert symbols[0].location.range.start.line == 4  # `func ParcelRate` is line 5
        uri = s.open(user)
        hover = await s.client.text_document_hover_async(
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(line=2, character=3),
            )
        )
        assert hover is not None
        text = hover.contents.value  # type: ignore[union-attr]
        assert "parse_invoice" in text and "billing/invoice.py" in text
        assert "Parse an invoice from its text form." in text


async def test_an_outside_edit_is_marked_stale_while_no_worker_runs(
    inited: Path, isolated_env: dict[str, str]
) -> None:
    user = inited / "app.py"
    user.write_text("from billing.invoice import parse_invoice\n\nparse_invoice('x')\n")
    options = {**FAST, "worker": {"autoStart": False}}
    async with lsp_session([inited], isolated_env, options=options) as s:
        await s.command("cq.worker.start")
        await s.wait_status(inited, lambda st: drained(st) and st["index"]["files"] == 4)
        found = await s.command("cq.search", {"query": "parse_invoice"})
        assert all(r["fresh"] is True for r in found["results"])
        await s.command("cq.worker.stop")
        await s.wait_status(inited, lambda st: st["worker"]["state"] == "stopped")
        invoice = inited / "billing" / "invoice.py"
        invoice.write_text(invoice.read_text().replace("0.2", "0.25"))
        found = await s.command("cq.search", {"query": "parse_invoice"})
        hit = next(r for r in found["results"] if r["path"] == "billing/invoice.py")
        assert hit["fresh"] is False and hit["current_sha"] != hit["documented_sha"]
        shown = await s.command("cq.show", {"path": "billing/invoice.py"})
        assert shown["fresh"] is False
        uri = s.open(user)
        hover = await s.client.text_document_hover_async(
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(line=2, character=3),
            )
        )
        assert hover is not None and "stale" in hover.contents.value  # type: ignore[union-attr]
        symbols = await s.client.workspace_symbol_async(
            types.WorkspaceSymbolParams(query="parse_invoice")
        )
        containers = {sym.container_name for sym in symbols if sym.name == "parse_invoice"}
        assert containers == {"billing/invoice.py (stale)"}, containers
        # The answers queued it (auto mode); the worker documents it once started.
        await s.command("cq.worker.start")
        await s.wait_status(inited, lambda st: drained(st) and st["index"]["stale"] == 0)
        shown = await s.command("cq.show", {"path": "billing/invoice.py"})
        assert shown["fresh"] is True


@pytest.mark.parametrize(
    ("line", "character", "word"),
    [
        ("parse_invoice('x')", 3, "parse_invoice"),
        ("parse_invoice('x')", 13, "parse_invoice"),  # just after the name
        ("x = $el.value", 6, "$el"),
        ("    ", 2, None),
    ],
)
def test_the_word_under_the_cursor(line: str, character: int, word: str | None) -> None:
    assert word_at(line, character) == word
