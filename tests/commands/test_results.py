"""Typed results: every command of the table answers with a class of commands/results.py, whose
JSON is the contract's, and a shape the core did not declare is refused, not passed through."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from cq_lsp.cli.session import CliSession
from cq_lsp.commands import results as r
from cq_lsp.commands.table import COMMANDS
from cq_lsp.config.edit import set_key
from cq_lsp.core.runner import document_queued
from tests.conftest import Cq

# What each command is asked in the run below, and the class it must answer with.
CALLS: list[tuple[str, dict[str, Any], type]] = [
    ("cq.init", {}, r.InitResult),
    ("cq.index", {}, r.IndexResult),
    ("cq.status", {}, r.Status),
    ("cq.status", {"all": True}, r.Statuses),
    ("cq.search", {"query": "invoice"}, r.SearchResult),
    ("cq.symbol", {"name": "parse_invoice"}, r.SymbolResult),
    ("cq.show", {"path": "billing/invoice.py"}, r.FileRecord),
    ("cq.eval", {}, r.EvalResult),
    ("cq.queue.list", {}, r.JobsResult),
    ("cq.queue.add", {"paths": ["billing/invoice.py", "nope.py"]}, r.IndexResult),
    ("cq.queue.remove", {"paths": ["README.md"]}, r.Removed),
    ("cq.queue.clear", {}, r.Cleared),
    ("cq.queue.retry", {}, r.Retried),
    ("cq.queue.cleanup", {}, r.Removed),
    ("cq.queue.history", {"n": 5}, r.HistoryResult),
    ("cq.hooks.install", {}, r.HooksChanged),
    ("cq.hooks.status", {}, r.HooksStatus),
    ("cq.hooks.uninstall", {}, r.HooksChanged),
    ("cq.worker.start", {}, r.WorkerResult),
    ("cq.worker.restart", {}, r.WorkerResult),
    ("cq.worker.stop", {}, r.WorkerResult),
]


@pytest.fixture
def answers(repo: Path, cq: Cq, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """Every command run once, in order, through the CLI's session on a real repository."""
    monkeypatch.chdir(repo)
    out: dict[str, Any] = {}
    for name, raw, _cls in CALLS:
        session = CliSession(str(repo))
        if name == "cq.index":  # document in this process: no worker before the worker calls
            set_key(repo, "processing.mode", "manual")
        result = COMMANDS[name](session, {"root": str(repo), **raw})
        if name == "cq.index":
            document_queued(session.workspace())
        out[f"{name} {json.dumps(raw, sort_keys=True)}"] = result
    yield out


def test_every_command_answers_with_its_typed_result(answers: dict[str, Any]) -> None:
    assert {n for n, _r, _c in CALLS} == set(COMMANDS), "a command of the table is not run here"
    for (label, result), (_n, _raw, cls) in zip(answers.items(), CALLS, strict=True):
        assert type(result) is cls, f"{label} answered {type(result).__name__}"
        data = r.to_json(result)
        json.dumps(data)  # plain JSON, nothing a face must convert further
        again = r.to_json(r.from_json(cls, data))
        assert again == data, f"{label} does not survive its own JSON"


def test_the_answers_carry_the_contract_names(answers: dict[str, Any]) -> None:
    by_name: dict[str, Any] = {}
    for label, res in answers.items():  # the first call of each command
        by_name.setdefault(label.split(" ")[0], r.to_json(res))
    hit = by_name["cq.search"]["results"][0]
    assert {"path", "score", "snippet", "overview", "line", "kind", "why", "fresh"} <= set(hit)
    assert "documented_sha" not in hit  # only a stale hit says which sha it describes
    assert by_name["cq.symbol"]["symbols"][0]["name"] == "parse_invoice"
    assert set(by_name["cq.eval"]["definition"]) == {"n", "recall@1", "recall@5", "mrr"}
    status = by_name["cq.status"]
    assert {"uptimeS", "rssBytes", "heartbeatAgeS"} <= set(status["worker"])
    assert {"oldestQueuedS", "nextDueS", "delayed"} <= set(status["queue"])
    added = by_name["cq.queue.add"]
    assert [x["reason"] for x in added["refused"]] == ["missing"]
    assert "wait" not in by_name["cq.index"]  # no face waited
    hooks = by_name["cq.hooks.status"]
    assert {"hooksDir", "hooksPath", "lastLog"} <= set(hooks)
    stopped = by_name["cq.worker.stop"]
    assert stopped["stopped"] is True and stopped["worker"]["state"] == "stopped"


def test_an_undeclared_key_is_refused_with_the_class_and_key() -> None:
    data = {"query": "x", "syntax": "plain", "mode": "terms", "results": [], "colour": 1}
    with pytest.raises(r.ResultShapeError, match=r"SearchResult: undeclared key\(s\) \['colour'\]"):
        r.from_json(r.SearchResult, data)
    with pytest.raises(r.ResultShapeError, match="Recall: missing key 'recall@5'"):
        r.from_json(r.Recall, {"n": 1, "recall@1": 1.0, "mrr": 1.0})
    with pytest.raises(r.ResultShapeError, match="SearchHit: expected an object, got list"):
        r.from_json(
            r.SearchResult, {k: v for k, v in data.items() if k != "colour"} | {"results": [[1]]}
        )


def test_json_names_and_omitted_fields() -> None:
    w = r.WorkerPart(state="crashed", pid=None, uptime_s=None, restarts=0, rss_bytes=None)
    assert r.to_json(w) == {
        "state": "crashed",
        "pid": None,
        "uptimeS": None,
        "restarts": 0,
        "rssBytes": None,
        "cpuS": None,
        "heartbeatAgeS": None,
    }
    w.last_pid = 41
    assert r.to_json(w)["lastPid"] == 41
    nested = r.from_json(
        r.WorkerResult, {"stopped": {"stopped": True, "pid": 3}, **{"worker": r.to_json(w)}}
    )
    assert isinstance(nested.stopped, r.Stopped) and nested.worker.last_pid == 41


def test_every_result_field_has_a_json_name_once() -> None:
    for cls in (v for v in vars(r).values() if isinstance(v, type) and attrs.has(v)):
        names = [f.metadata.get("json") or f.name for f in attrs.fields(cls)]
        assert len(names) == len(set(names)), f"{cls.__name__} uses a JSON name twice"


def test_the_search_fast_path_answers_what_the_table_answers(
    repo: Path, cq: Cq, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`cq-lsp search`/`symbol` skip the table for speed; their JSON must still be its JSON."""
    monkeypatch.chdir(repo)
    cq.run("init")
    cq.run("index", "--wait")
    cq.run("config", "set", "processing.mode", "manual")  # stale answers stay stale meanwhile
    (repo / "billing" / "invoice.py").write_text("def parse_invoice():\n    pass\n")  # stale now
    for argv, name, raw in (
        (["search", "invoice"], "cq.search", {"query": "invoice"}),
        (["symbol", "parse_invoice"], "cq.symbol", {"name": "parse_invoice"}),
    ):
        table = r.to_json(COMMANDS[name](CliSession(str(repo)), {"root": str(repo), **raw}))
        fast = cq.json(*argv)
        assert fast == table, f"`cq-lsp {' '.join(argv)}` differs from {name}"
        assert any(x.get("fresh") is False for x in table.get("results", table.get("symbols")))


def test_a_union_of_results_takes_the_class_the_object_fits() -> None:
    followed = {"queued": 0, "delayed": 0, "running": 0, "done": 3, "failed": 0, "skipped": 0}
    followed |= {"total": 3, "elapsedS": 0.5, "cancelledByUser": False}
    index = {"queued": 3, "unchanged": 0, "removed": 0, "skipped": 0, "refused": []}
    result = r.from_json(r.IndexResult, {**index, "wait": followed})
    assert isinstance(result.wait, r.Followed) and result.wait.done == 3
    waited = {"documented": 3, "failed": 0, "newlyFailed": 0, "elapsedS": 0.5}
    waited |= {"filesPerS": 6.0, "restarts": 0}
    assert isinstance(r.from_json(r.IndexResult, {**index, "wait": waited}).wait, r.Waited)
    with pytest.raises(r.ResultShapeError, match="Followed: undeclared key"):
        r.from_json(r.IndexResult, {**index, "wait": {**waited, "colour": 1}})
