"""Neovim (headless, Debian's package) as the editor: the same server a real user attaches."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Cq, run_git

pytestmark = pytest.mark.timeout(240)

SCRIPT = Path(__file__).with_name("neovim_e2e.lua")


def _nvim() -> str:
    nvim = shutil.which("nvim")
    if nvim is None:
        pytest.fail("nvim is not installed: `bash scripts/setup.sh` installs Debian's neovim")
    return nvim


def test_neovim_saves_are_documented_and_commands_work(
    repo: Path, cq: Cq, isolated_env: dict[str, str], tmp_path: Path
) -> None:
    (repo / "app.py").write_text("from billing.invoice import parse_invoice\n\nparse_invoice('')\n")
    run_git(repo, "add", "app.py")
    run_git(repo, "commit", "-qm", "app")
    cq.run("init")
    out = tmp_path / "nvim-e2e.jsonl"
    env = {
        **isolated_env,
        "E2E_OUT": str(out),
        "E2E_ROOT": str(repo),
        "E2E_FILE": str(repo / "billing" / "invoice.py"),
        "E2E_PY": sys.executable,
        "E2E_FILES_BEFORE": "5",
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CONFIG_HOME": str(tmp_path / "nvim-config"),
        "XDG_DATA_HOME": str(tmp_path / "nvim-data"),
    }
    proc = subprocess.run(
        [_nvim(), "--headless", "-u", "NONE", "-i", "NONE", "-n", "-c", f"luafile {SCRIPT}"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=200,
    )
    records: dict[str, Any] = {}
    if out.exists():
        for line in out.read_text().splitlines():
            item = json.loads(line)
            records[item["kind"]] = item["value"]
    assert proc.returncode == 0 and records.get("finish") == 0, (
        f"nvim exited {proc.returncode}: {records.get('error')}\n{proc.stderr[-2000:]}"
    )
    before = records["status_before"]
    assert before["root"] == str(repo) and before["health"] == "ok"
    after = records["status_after"]
    assert after["index"]["files"] == 5
    assert after["documenter"]["calls"] > before["documenter"]["calls"]
    results = records["search"]["results"]
    assert results and results[0]["path"] == "billing/invoice.py"
    symbols = records["symbols"]
    assert [s["name"] for s in symbols] == ["ParcelRate"]
    assert symbols[0]["location"]["uri"].endswith("src/shipping/rates.go")
    assert records["bad_args"]["code"] == -32602
    assert "query must be a non-empty string" in records["bad_args"]["message"]
    hover = records["hover"]["contents"]["value"]
    assert "parse_invoice" in hover and "billing/invoice.py" in hover
    assert records["stopped"] is True
