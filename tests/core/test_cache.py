"""The local content-addressed documentation store: shared by work trees and clones of one user.

Real parts: the real program in real git repositories, a fake LLM that is a real executable
counting its calls in a file, several processes writing one store at once.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cq_lsp.config.load import load_config
from cq_lsp.config.schema import Config, ProcessorConfig
from cq_lsp.documenters.base import DocumentContext
from cq_lsp.documenters.records import FileRecord
from cq_lsp.documenters.select import documenter_fingerprint
from cq_lsp.documenters.static import StaticDocumenter
from cq_lsp.store.cache import (
    LocalStore,
    decode_record,
    doc_key,
    encode_record,
    localize,
    store_path,
)
from tests.conftest import Cq, make_repo, run_git
from tests.fakes.llm import write_fake_llm

FILES = {f"pkg/mod{i}.py": f'"""Module {i}."""\n\nimport requests\n\n\ndef f{i}(x):\n    return x\n'
         for i in range(6)}  # fmt: skip


def llm_user_config(env: dict[str, str], fake: Path, log: Path) -> None:
    """The user's own config (so the command is trusted): the fake LLM, counting into ``log``."""
    cfg = Path(env["CQ_LSP_CONFIG_HOME"])
    cfg.mkdir(parents=True, exist_ok=True)
    data = {
        "schema_version": 2,
        "processor": {"kind": "command", "command": [str(fake)], "env": ["FAKE_LLM_LOG"]},
        "processing": {"mode": "manual"},
    }
    (cfg / "config.json").write_text(json.dumps(data), encoding="utf-8")
    env["FAKE_LLM_LOG"] = str(log)


def calls(log: Path) -> list[str]:
    if not log.exists():
        return []
    return [line for line in log.read_text().splitlines() if not line.startswith("done ")]


def index(root: Path, env: dict[str, str]) -> dict[str, object]:
    cq = Cq(root, env)
    cq.run("init")
    cq.run("index", "--wait", timeout=300)
    status: dict[str, object] = cq.json("status")
    return status


def test_second_clone_and_new_worktree_cost_no_documenter_call(
    tmp_path: Path, isolated_env: dict[str, str]
) -> None:
    env = dict(isolated_env)
    log = tmp_path / "llm.log"
    llm_user_config(env, write_fake_llm(tmp_path / "bin", "timed"), log)
    env["FAKE_LLM_SLEEP_S"] = "0"
    first = make_repo(tmp_path / "first", dict(FILES))
    st = index(first, env)
    assert sorted(calls(log)) == sorted(FILES)
    assert st["documenter"]["llmCalls"] == len(FILES)  # type: ignore[index]

    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(first), str(clone)], check=True, env=env)
    st = index(clone, env)
    assert len(calls(log)) == len(FILES), "the clone paid for documentation again"
    assert st["sharing"]["reused"]["localStore"] == len(FILES)  # type: ignore[index]
    assert st["queue"]["done"] == len(FILES)  # type: ignore[index]

    run_git(first, "worktree", "add", "-q", str(tmp_path / "linked"))
    linked = tmp_path / "linked"
    st = index(linked, env)
    assert len(calls(log)) == len(FILES), "the new work tree paid for documentation again"
    assert (linked / ".code-query" / "index.db").exists()  # its own index, not the first's
    shown = Cq(linked, env).json("show", "pkg/mod3.py")
    assert shown["overview"] == "Fake LLM overview of pkg/mod3.py."

    # A changed file is a new key: documented once, in whichever tree sees it first.
    (linked / "pkg" / "mod3.py").write_text("def changed():\n    pass\n", encoding="utf-8")
    Cq(linked, env).run("index", "--wait")
    assert len(calls(log)) == len(FILES) + 1


def test_a_changed_model_or_prompt_setting_changes_the_key_nothing_else() -> None:
    base = Config(processor=ProcessorConfig(kind="command", command=("llm", "-p")))
    fp = documenter_fingerprint(base)
    other_model = Config(model="opus", processor=base.processor)
    other_command = Config(processor=ProcessorConfig(kind="command", command=("llm", "-q")))
    from cq_lsp.config.schema import ProcessingConfig, WorkerConfig

    batch = Config(
        processor=base.processor,
        processing=ProcessingConfig(batch_size=50),
        worker=WorkerConfig(threads=8),
    )
    assert documenter_fingerprint(other_model) != fp
    assert documenter_fingerprint(other_command) != fp
    assert documenter_fingerprint(batch) == fp
    assert documenter_fingerprint(Config()) != fp
    assert doc_key(fp, "a" * 64, "python", None) != doc_key(fp, "b" * 64, "python", None)


SOURCES = {
    "python": ("app/main.py", "import os\nimport billing.core\nimport requests\nfrom . import x\n"),
    "javascript": ("web/a.js", "import x from 'billing';\nimport l from 'lodash';\n"),
    "java": ("src/A.java", "import billing.Core;\nimport org.slf4j.Logger;\nclass A {}\n"),
    "rust": ("src/lib.rs", "use billing::core;\nuse serde::Serialize;\nmod inner;\n"),
    "go": ("main.go", 'package main\nimport "github.com/x/y"\n'),
}


@pytest.mark.parametrize("language", sorted(SOURCES))
def test_context_free_record_localized_equals_documenting_with_context(language: str) -> None:
    path, text = SOURCES[language]
    local = frozenset({"billing", "web", "app", "src"})
    doc = StaticDocumenter()
    with_context = doc.document(path, text, language, DocumentContext(local_modules=local))
    free = doc.document(path, text, language, DocumentContext())
    stored = decode_record(encode_record(free), path=path, language=language)
    assert localize(stored, local).to_dict() == with_context.to_dict()


def test_records_from_the_store_are_validated_like_an_llm_answer(tmp_path: Path) -> None:
    import zlib

    record = FileRecord(path="a.py", filename="a.py", language="python", overview="ok")
    good = encode_record(record)
    assert decode_record(good, path="b/c.py", language="python").path == "b/c.py"
    from cq_lsp.documenters.answer import AnswerError

    bad = [
        b"not zlib",
        zlib.compress(b'{"processor": "x"}'),  # no overview
        zlib.compress(b'{"overview": "x", "processor": "x", "functions": []}'),
        zlib.compress(b'{"overview": "x", "processor": "x", "symbols": [{"name": 1}]}'),
        zlib.compress(b'["overview"]'),
    ]
    for blob in bad:
        with pytest.raises(AnswerError):
            decode_record(blob, path="a.py", language="python")


def test_a_bad_record_in_the_store_is_ignored_and_the_file_documented(
    tmp_path: Path, isolated_env: dict[str, str]
) -> None:
    env = dict(isolated_env)
    log = tmp_path / "llm.log"
    llm_user_config(env, write_fake_llm(tmp_path / "bin", "timed"), log)
    env["FAKE_LLM_SLEEP_S"] = "0"
    first = make_repo(tmp_path / "first", {"a.py": "x = 1\n"})
    index(first, env)
    db = store_path(env)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE records SET record = ?", (b"\x78\x9c garbage",))
    second = make_repo(tmp_path / "second", {"a.py": "x = 1\n"})
    st = index(second, env)
    assert len(calls(log)) == 2
    assert st["sharing"]["reused"]["localStore"] == 0  # type: ignore[index]


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from cq_lsp.store.cache import LocalStore
    store = LocalStore(Path(sys.argv[1]), 1 << 30)
    me = sys.argv[2]
    for i in range(300):
        store.put_many([(f"{me}-{i}", b"x" * 100), (f"shared-{i}", b"s" * 100)])
        assert store.get(f"{me}-{i}") == b"x" * 100
        assert store.get(f"shared-{i}") == b"s" * 100
    print("ok")
    """
)


def test_several_processes_write_one_store_at_once(tmp_path: Path) -> None:
    path = tmp_path / "data" / "docs-cache.db"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), f"w{n}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0 and out.strip() == "ok", err
    stats = LocalStore(path, 1 << 30).stats()
    assert stats["records"] == 4 * 300 + 300


def test_lru_prune_drops_the_least_recently_used(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "s.db", 1 << 20)
    store.put_many([(f"k{i}", b"y" * 1000) for i in range(100)])
    with sqlite3.connect(tmp_path / "s.db") as conn:  # k0..k49 used long ago
        conn.execute("UPDATE records SET used_at = 1 WHERE CAST(substr(key, 2) AS INT) < 50")
    result = store.prune(60_000)
    assert result["removed"] > 0 and result["bytes"] <= 60_000
    assert store.get("k10") is None and store.get("k99") is not None


def test_a_corrupt_store_is_rebuilt_and_said(tmp_path: Path, isolated_env: dict[str, str]) -> None:
    env = dict(isolated_env)
    root = make_repo(tmp_path / "r", {"a.py": "x = 1\n"})
    index(root, env)
    db = store_path(env)
    for suffix in ("-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    db.write_bytes(b"this is not a database" * 200)
    other = make_repo(tmp_path / "o", {"b.py": "y = 2\n"})
    st = index(other, env)
    assert st["queue"]["done"] == 1  # type: ignore[index]
    assert "documentation store was corrupt" in str(st["message"])
    out = Cq(other, env).run("cache", "status").stdout
    assert "was corrupt and rebuilt" in out
    assert list(db.parent.glob("docs-cache.db.corrupt-*"))


def test_a_repository_cannot_send_content_off_the_machine(
    tmp_path: Path, isolated_env: dict[str, str]
) -> None:
    root = make_repo(tmp_path / "r", {"a.py": "x = 1\n"})
    (root / ".code-query").mkdir()
    (root / ".code-query" / "config.json").write_text(
        json.dumps(
            {
                "schema_version": 2,
                "cache": {"url": "redis://evil.example:6379/0", "write": True},
                "pool": {"url": "redis://evil.example:6379/1"},
            }
        ),
        encoding="utf-8",
    )
    loaded = load_config(root, env=isolated_env)
    assert loaded.config.cache.url is None and loaded.config.pool.url is None
    assert any('"cache" is ignored' in w for w in loaded.warnings)
    env = dict(isolated_env, CODEQUERY_CACHE_URL="redis://team.example:6379/2")
    assert load_config(root, env=env).config.cache.url == "redis://team.example:6379/2"
