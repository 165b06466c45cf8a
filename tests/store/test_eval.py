"""``cq-lsp eval``: definition lookup and history retrieval on a real repository's history."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cq_lsp.errors import UsageError
from cq_lsp.store.db import Database
from cq_lsp.store.evaluate import definition_tasks, evaluate, history_tasks
from cq_lsp.worktree.git import run_git
from cq_lsp.worktree.project import Project
from tests.conftest import Cq, make_repo
from tests.store_helpers import document_tree

# (subject, path, content): each commit changes one file, unless the path is a tuple.
HISTORY: list[tuple[str, str | tuple[str, ...], str]] = [
    ("Invoices are parsed from their text form", "billing/invoice.py",
     '"""Invoices."""\n\n\ndef parse_invoice(text):\n    """Parse an invoice."""\n'
     "    return text.split()\n"),
    ("Shipping rates by parcel weight", "shipping/rates.py",
     "def parcel_rate(weight):\n    return weight * 2\n"),
    ("Bump version to 1.2.0", "billing/invoice.py", "# 1.2.0\n"),
    ("Fix typo", "shipping/rates.py", "# typo\n"),
    ("Describe the project", "README.md", "# Shop\n\nParses invoices and rates parcels.\n"),
    ("Checkout totals call the billing and shipping helpers", ("shop/checkout.py", "shop/cart.py"),
     "from billing.invoice import parse_invoice\nfrom shipping.rates import parcel_rate\n\n"
     "def total(t, w):\n    return parse_invoice(t), parcel_rate(w)\n"),
    ("Revert \"Shipping rates\"", "shipping/rates.py", "# revert\n"),
    ("Receipts print the parsed invoice", "shop/receipt.py",
     "from billing.invoice import parse_invoice\n\ndef receipt(t):\n"
     "    return parse_invoice(t), parcel_rate(1)\n"),
]  # fmt: skip


def _build(root: Path, db: Database) -> None:
    final: dict[str, str] = {}
    for subject, paths, text in HISTORY:
        for rel in (paths,) if isinstance(paths, str) else paths:
            p = root / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            # Bumps, typos and reverts append; the rest is the file's real content.
            old = p.read_text() if p.exists() and text.startswith("#") else ""
            p.write_text(old + text)
            final[rel] = old + text
        run_git(root, "add", "-A")
        run_git(root, "commit", "-qm", subject)
    document_tree(root, db, final)


@pytest.fixture
def shop(tmp_path: Path, cq_factory: Callable[[Path], Cq]) -> Path:
    root = make_repo(tmp_path / "history", {})
    cq_factory(root).run("init")
    run_git(root, "add", "-A")
    run_git(root, "commit", "-qm", "cq-lsp init")  # .code-query/.gitignore, not in the index
    db = Database(Project(root).index_db)
    try:
        _build(root, db)
    finally:
        db.close()
    return root


def test_history_tasks_skip_bumps_typos_reverts_docs_and_multi_file_commits(shop: Path) -> None:
    db = Database(Project(shop).index_db)
    try:
        tasks = history_tasks(db, shop, 100)
    finally:
        db.close()
    assert tasks == [
        ("Receipts print the parsed invoice", "shop/receipt.py"),
        ("Shipping rates by parcel weight", "shipping/rates.py"),
        ("Invoices are parsed from their text form", "billing/invoice.py"),
    ]


def test_definition_tasks_are_names_defined_once_and_used_twice(shop: Path) -> None:
    db = Database(Project(shop).index_db)
    try:
        pairs, source = definition_tasks(db, 100)  # no root: the index's own symbols
        tagged, tag_source = definition_tasks(db, 100, shop)
    finally:
        db.close()
    tasks = dict(pairs)
    assert source == "symbols"
    # Universal Ctags, when installed, finds the same definitions in these files.
    assert tag_source in ("ctags", "symbols")
    assert dict(tagged) == tasks
    # parse_invoice: defined in billing/invoice.py, used in checkout, cart and receipt.
    # total and receipt: defined once, used nowhere else. parcel_rate: used in three files.
    assert tasks == {"parse_invoice": "billing/invoice.py", "parcel_rate": "shipping/rates.py"}


def test_eval_json_shape_and_figures(shop: Path, cq_factory: Callable[[Path], Cq]) -> None:
    cq = cq_factory(shop)
    out = cq.json("eval")
    assert set(out) >= {"definition", "history", "baselines", "misses"}
    assert out["definition"]["n"] == 2 and out["history"]["n"] == 3
    assert out["definition"]["recall@1"] == 1.0
    for engine in ("bm25", "grep"):
        for task in ("definition", "history"):
            figures = out["baselines"][engine][task]
            assert set(figures) == {"n", "recall@1", "recall@5", "mrr"}
            assert 0.0 <= figures["recall@5"] <= 1.0
    for m in out["misses"]:
        assert set(m) == {"task", "query", "expected", "rank", "got"}
    text = cq.run("eval", "--limit", "1").stdout
    assert text.splitlines()[0].split() == ["task", "engine", "n", "R@1", "R@5", "MRR"]
    assert "definition  cq-lsp" in text


def test_eval_limit_and_empty_history(tmp_path: Path, repo: Path, cq: Cq) -> None:
    cq.run("init")
    db = Database(Project(repo).index_db)
    try:
        with pytest.raises(UsageError):
            evaluate(db, repo, limit=0)
        empty = evaluate(db, repo, limit=5)
        assert empty["definition"]["n"] == 0 and empty["definition"]["recall@1"] is None
    finally:
        db.close()
