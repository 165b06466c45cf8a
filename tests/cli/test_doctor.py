"""`cq-lsp doctor` through the real CLI: what it finds and what it tells the user to do."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import Cq


def _checks(cq: Cq, cwd: Path | None = None) -> tuple[int, dict[str, dict[str, Any]]]:
    proc = cq.run("doctor", "--json", check=False, cwd=cwd)
    data = json.loads(proc.stdout)
    return proc.returncode, {c["name"]: c for c in data["checks"]}


def test_healthy_repository(cq: Cq) -> None:
    cq.run("init")
    cq.run("index", "--wait")
    cq.run("hooks", "install")
    code, checks = _checks(cq)
    assert code == 0
    assert all(c["status"] == "ok" for c in checks.values()), checks
    assert "4 file(s) documented" in checks["index"]["detail"]
    text = cq.run("doctor").stdout
    assert "all good" in text


def test_not_initialized_is_a_warning_with_the_fix(cq: Cq) -> None:
    code, checks = _checks(cq)
    assert code == 0
    assert checks["work tree"]["status"] == "warning"
    assert "cq-lsp init" in checks["work tree"]["hint"]


def test_outside_a_work_tree_is_an_error(cq: Cq, tmp_path: Path) -> None:
    elsewhere = tmp_path / "plain"
    elsewhere.mkdir()
    code, checks = _checks(cq, cwd=elsewhere)
    assert code == 1
    assert checks["work tree"]["status"] == "error"


def test_crashed_worker_and_bad_config_are_errors(cq: Cq, repo: Path) -> None:
    cq.run("init")
    state = repo / ".code-query"
    # A worker.json whose process is gone: what a kill -9 leaves behind.
    (state / "worker.json").write_text(
        json.dumps({"pid": 999_999, "create_time": 1.0, "cmdline": ["python"], "started_at": 1.0})
    )
    cfg = json.loads((state / "config.json").read_text())
    cfg.setdefault("processing", {})["batch_size"] = "five"
    (state / "config.json").write_text(json.dumps(cfg))
    code, checks = _checks(cq)
    assert code == 1
    assert checks["worker"]["status"] == "error"
    assert "worker cleanup" in checks["worker"]["hint"]
    assert checks["config"]["status"] == "error"
    assert "processing.batch_size" in checks["config"]["detail"]


def test_untrusted_command_documenter_is_an_error_that_says_how_to_trust(
    cq: Cq, repo: Path
) -> None:
    cq.run("init")
    cfg_path = repo / ".code-query" / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg.setdefault("processor", {}).update({"kind": "command", "command": ["sh", "-c", "cat"]})
    cfg_path.write_text(json.dumps(cfg))
    code, checks = _checks(cq)
    assert code == 1
    assert checks["documenter"]["status"] == "error"
    assert "config trust" in checks["documenter"]["hint"]
    cq.run("config", "trust")
    code, checks = _checks(cq)
    assert checks["documenter"]["status"] == "ok", checks["documenter"]


def test_corrupt_index_is_reported(cq: Cq, repo: Path) -> None:
    cq.run("init")
    (repo / ".code-query" / "index.db").write_bytes(b"this is not a database" * 100)
    code, checks = _checks(cq)
    assert code == 1
    assert checks["index"]["status"] == "error"
    assert "rebuild" in checks["index"]["hint"]
