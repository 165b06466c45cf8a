"""What a new user hits in the first hour: closed pipes, typos, wide tables, config sources."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from conftest import Cq, run_git


def _big_class_file(repo: Path) -> None:
    lines = []
    for c in range(60):
        lines.append(f"class Big{c}:")
        lines += [f"    def method_{i}(self, a, b, c, d, e, f, g): pass" for i in range(20)]
    (repo / "classes.py").write_text("\n".join(lines) + "\n")


def test_a_closed_pipe_ends_quietly(cq: Cq, repo: Path) -> None:
    _big_class_file(repo)
    cq.run("init")
    cq.run("config", "set", "processing.mode", "manual")
    cq.run("index", "classes.py", "--wait")
    # `cq-lsp show classes.py | head -1`: the reader leaves after one byte.
    proc = subprocess.Popen(
        [sys.executable, "-m", "cq_lsp", "show", "classes.py"],
        cwd=repo,
        env=cq.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(1) == b"c"
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait() == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err


def test_a_path_that_does_not_exist_is_an_error(cq: Cq, repo: Path) -> None:
    cq.run("init")
    cq.run("config", "set", "processing.mode", "manual")
    shown = cq.run("show", "nope.py", check=False)
    assert shown.returncode == 1
    assert "nope.py: no such file" in shown.stderr and "cq-lsp index nope.py" not in shown.stderr
    indexed = cq.run("index", "nope.py", check=False)
    assert indexed.returncode == 1 and "nope.py: no such file" in indexed.stderr
    # One real path among them still works; a deleted file that was documented is removed.
    assert cq.run("index", "nope.py", "README.md", check=False).returncode == 0
    cq.run("queue", "process")
    (repo / "README.md").unlink()
    out = cq.json("index", "README.md")
    assert out["removed"] == 1 and not out["refused"]


def test_reindex_summarises_skipped_files_by_reason(cq: Cq, repo: Path) -> None:
    for i in range(12):
        (repo / f"blob{i}.bin").write_bytes(b"\0\1\2" * 10)
    run_git(repo, "add", "-A")
    run_git(repo, "commit", "-qm", "binaries")
    cq.run("init")
    cq.run("config", "set", "processing.mode", "manual")
    for _ in range(2):
        err = cq.run("index").stderr
        assert "skipped 12: 12 binary" in err
        assert "blob3.bin" not in err
    verbose = cq.run("index", "--verbose").stderr
    assert all(f"blob{i}.bin" in verbose for i in range(12))
    listed = cq.json("queue", "list", "--state", "skipped")["jobs"]
    assert len(listed) == 12 and {j["reason"] for j in listed} == {"binary"}


def test_queue_list_fits_the_terminal(cq: Cq, repo: Path) -> None:
    deep = "src/" + "/".join(f"very_long_directory_name_{i}" for i in range(5))
    (repo / deep).mkdir(parents=True)
    (repo / deep / "the_file_that_matters.py").write_text("X = 1\n")
    (repo / deep / "binary_blob.bin").write_bytes(b"\0" * 20)
    run_git(repo, "add", "-A")
    run_git(repo, "commit", "-qm", "deep")
    cq.run("init")
    cq.run("config", "set", "processing.mode", "manual")
    cq.run("index")
    env = {**cq.env, "COLUMNS": "80"}
    out = subprocess.run(
        [sys.executable, "-m", "cq_lsp", "queue", "list"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines = out.splitlines()
    assert all(len(line) <= 80 for line in lines), lines
    row = next(line for line in lines if "the_file_that_matters.py" in line)
    assert "…" in row and row.split()[0] == "queued"  # the middle went, the name stayed
    skipped = next(line for line in lines if line.startswith("skipped"))
    assert skipped.count("binary_blob.bin") == 1  # the error column does not repeat the path
    assert "binary file" in skipped


def test_config_show_says_where_each_value_comes_from(cq: Cq, repo: Path) -> None:
    cq.run("init")
    cq.run("config", "set", "processing.batch_size", "7")
    env = {**cq.env, "CODEQUERY_PROCESSING_MODE": "manual"}
    out = subprocess.run(
        [sys.executable, "-m", "cq_lsp", "config", "show"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.strip()}
    assert rows["processing.batch_size"] == ["7", "repo"]
    assert rows["processing.mode"][-1] in ("env", "environment")
    assert rows["worker.threads"] == ["2", "default"]


def test_a_bulk_index_gives_free_pages_back(cq: Cq, repo: Path) -> None:
    for i in range(220):
        (repo / f"m{i:03d}.py").write_text(
            f'"""Module {i}."""\n\n'
            + "".join(f"def f{i}_{j}(x):\n    return x\n" for j in range(30))
        )
    run_git(repo, "add", "-A")
    run_git(repo, "commit", "-qm", "many")
    cq.run("init")
    cq.run("config", "set", "processing.mode", "manual")
    cq.run("index", "--wait")
    with sqlite3.connect(repo / ".code-query" / "index.db") as conn:
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
    assert free / pages <= 0.1, (free, pages)
