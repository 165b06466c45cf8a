"""Emacs (headless, Debian's emacs-nox) as the editor, with eglot and with lsp-mode."""

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

HERE = Path(__file__).parent


def _emacs() -> str:
    emacs = shutil.which("emacs")
    if emacs is None:
        pytest.fail("emacs is not installed: `bash scripts/setup.sh` installs Debian's emacs-nox")
    return emacs


def _run(script: str, repo: Path, env: dict[str, str], tmp_path: Path) -> dict[str, Any]:
    out = tmp_path / f"{Path(script).stem}.jsonl"
    proc = subprocess.run(
        # -q, not -Q: Debian's site-start puts the elpa-* packages on the load path.
        [_emacs(), "--batch", "-q", "-l", str(HERE / script)],
        cwd=repo,
        env={
            **env,
            "E2E_OUT": str(out),
            "E2E_ROOT": str(repo),
            "E2E_PY": sys.executable,
            "E2E_FILES_BEFORE": "5",
            "HOME": str(tmp_path / "home"),  # no user init, no ~/.emacs.d litter
        },
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
        f"emacs exited {proc.returncode}: {records.get('error')}\n{proc.stderr[-3000:]}"
    )
    return records


@pytest.fixture
def project(repo: Path, cq: Cq) -> Path:
    (repo / "app.py").write_text("from billing.invoice import parse_invoice\n\nparse_invoice('')\n")
    run_git(repo, "add", "app.py")
    run_git(repo, "commit", "-qm", "app")
    (repo / "home").mkdir()
    cq.run("init")
    return repo


def _check_common(records: dict[str, Any], repo: Path) -> None:
    before = records["status_before"]
    assert before["root"] == str(repo) and before["health"] == "ok"
    after = records["status_after"]
    assert after["index"]["files"] == 5
    assert after["documenter"]["calls"] > before["documenter"]["calls"]
    results = records["search"]["results"]
    assert results and results[0]["path"] == "billing/invoice.py"
    assert records["bad_args"]["code"] == -32602
    assert "query must be a non-empty string" in records["bad_args"]["message"]
    assert records["stopped"] is True


def test_emacs_eglot(project: Path, isolated_env: dict[str, str], tmp_path: Path) -> None:
    records = _run("emacs_eglot_e2e.el", project, isolated_env, tmp_path)
    assert records["server"] == "cq-lsp" and records["backend"] == "eglot"
    _check_common(records, project)
    apropos = records["apropos"]
    # eglot shows the definition's line as the summary.
    assert len(apropos) == 1 and "func ParcelRate(" in apropos[0]["summary"]
    assert apropos[0]["file"].endswith("src/shipping/rates.go") and apropos[0]["line"] == 5
    assert "billing/invoice.py" in records["apropos_buffer"]
    assert "parse_invoice" in records["apropos_buffer"]


def test_emacs_lsp_mode(project: Path, isolated_env: dict[str, str], tmp_path: Path) -> None:
    records = _run("emacs_lsp_mode_e2e.el", project, isolated_env, tmp_path)
    assert records["server"] == "cq-lsp" and records["backend"] == "xref-lsp"
    _check_common(records, project)
    apropos = records["apropos"]
    assert len(apropos) == 1 and "ParcelRate" in apropos[0]["summary"]
    # lsp-mode 8.0 keeps LSP's 0-based line in its xref items (eglot above shows it 1-based).
    assert apropos[0]["file"].endswith("src/shipping/rates.go") and apropos[0]["line"] == 4
