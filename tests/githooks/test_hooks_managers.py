"""cq-lsp's hooks alongside the real hook managers: husky and lefthook (from the npm registry,
installed once per session) and pre-commit (Debian's package, see scripts/setup.sh)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cq_lsp.githooks.install import HOOK_NAMES
from tests.conftest import Cq, run_git
from tests.githooks.test_hooks import commit, done_lines, git, queued, setup_hooks, write


@pytest.fixture(scope="session")
def npm_tools(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """husky 9 and lefthook 2 from the npm registry, without their install scripts."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed")
    prefix = tmp_path_factory.mktemp("npm-tools")
    proc = subprocess.run(
        [
            npm,
            "install",
            "--no-save",
            "--no-audit",
            "--no-fund",
            "--ignore-scripts",
            "--prefix",
            str(prefix),
            "husky@9",
            "lefthook@2",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        pytest.skip(f"npm could not install husky and lefthook: {proc.stderr[-500:]}")
    yield prefix / "node_modules"


def lefthook_bin(modules: Path) -> Path:
    found = sorted(modules.glob("lefthook-*/bin/lefthook"))
    if not found:
        pytest.skip("lefthook's native binary package is missing")
    return found[0]


def test_husky_gets_one_line_per_hook_and_uninstall_restores_its_files(
    cq: Cq, repo: Path, npm_tools: Path
) -> None:
    subprocess.run(
        ["node", str(npm_tools / "husky" / "bin.js")], cwd=repo, check=True, capture_output=True
    )
    assert run_git(repo, "config", "core.hooksPath").strip() == ".husky/_"
    # The user already has a post-commit script (husky runs it with sh -e), without a last newline.
    (repo / ".husky" / "post-commit").write_bytes(b'echo "user script ran" > .husky-user-ran')
    setup_hooks(cq)
    st = cq.json("hooks", "status")
    assert st["manager"] == "husky" and st["installed"]
    assert {h["via"] for h in st["hooks"]} == {"husky"}
    text = (repo / ".husky" / "post-commit").read_text()
    assert text.startswith('echo "user script ran" > .husky-user-ran\ng=$(git rev-parse')
    assert "# cq-lsp-hook v1" in text
    write(repo, "husky_file.py", "H = 1\n")
    commit(repo)
    assert (repo / ".husky-user-ran").exists()
    assert "husky_file.py" in queued(cq)
    # post-rewrite gets git's stdin through husky: an amend is its pairs' diff.
    write(repo, "amended.py", "A = 1\n")
    git(repo, "add", "amended.py")
    git(repo, "commit", "-q", "--amend", "--no-edit")
    assert "amended.py" in queued(cq)
    assert any("post-rewrite" in ln and "amend: rewritten pairs" in ln for ln in done_lines(repo))
    # A clone without cq-lsp's private shims: the committed line does nothing, and fails nothing.
    shutil.rmtree(repo / ".git" / "cq-lsp" / "hooks")
    write(repo, "without.py", "W = 1\n")
    commit(repo)
    assert "without.py" not in queued(cq)
    cq.run("hooks", "install")  # puts the private shims back; the line is already there
    assert cq.json("hooks", "status")["installed"]
    cq.run("hooks", "uninstall")
    assert (repo / ".husky" / "post-commit").read_bytes() == (
        b'echo "user script ran" > .husky-user-ran'
    )
    for hook in HOOK_NAMES[1:]:
        assert not (repo / ".husky" / hook).exists()
    assert not (repo / ".git" / "cq-lsp").exists()


def test_lefthook_runs_our_commands_from_its_local_config(
    cq: Cq, repo: Path, npm_tools: Path, isolated_env: dict
) -> None:
    binary = lefthook_bin(npm_tools)
    (repo / "lefthook.yml").write_text(
        "pre-commit:\n  commands:\n    hello:\n      run: echo hello\n"
    )
    commit(repo, "lefthook", "lefthook.yml")
    cq.run("init")
    cq.run("config", "set", "processing.mode", "manual")
    cq.run("config", "set", "processing.delay_seconds", "0")
    out = cq.json("hooks", "install")
    assert out["manager"] == "lefthook"
    assert {h["action"] for h in out["hooks"]} == {"written"}
    assert any("lefthook install" in n for n in out["notes"])
    local = repo / "lefthook-local.yml"
    assert "use_stdin: true" in local.read_text()
    subprocess.run([str(binary), "install"], cwd=repo, check=True, capture_output=True)
    env = {**isolated_env, "LEFTHOOK_BIN": str(binary)}
    write(repo, "lefty.py", "L = 1\n")
    git(repo, "add", "lefty.py", env=env)
    git(repo, "commit", "-q", "-m", "l", env=env)
    assert queued(cq) == {"lefty.py"}
    write(repo, "amend_l.py", "M = 1\n")
    git(repo, "add", "amend_l.py", env=env)
    git(repo, "commit", "-q", "--amend", "--no-edit", env=env)
    assert "amend_l.py" in queued(cq)
    assert any("amend: rewritten pairs" in ln for ln in done_lines(repo))
    assert cq.json("hooks", "status")["installed"]
    assert {h["action"] for h in cq.json("hooks", "install")["hooks"]} == {"unchanged"}
    cq.run("hooks", "uninstall")
    assert not local.exists()  # we created it: it is gone


def test_lefthook_local_config_that_configures_these_hooks_gets_printed_instructions(
    cq: Cq, repo: Path
) -> None:
    (repo / "lefthook.yml").write_text(
        "pre-commit:\n  commands:\n    hello:\n      run: echo hello\n"
    )
    original = b"post-commit:\n  commands:\n    mine:\n      run: echo mine\n"
    (repo / "lefthook-local.yml").write_bytes(original)
    cq.run("init")
    out = cq.json("hooks", "install")
    assert {h["action"] for h in out["hooks"]} == {"printed"}
    assert "post-rewrite:" in out["instructions"] and "use_stdin: true" in out["instructions"]
    assert (repo / "lefthook-local.yml").read_bytes() == original
    # One that does not configure them gets our block appended, and gets it back out exactly.
    other = b"# mine\nskip_output:\n  - meta"
    (repo / "lefthook-local.yml").write_bytes(other)
    assert {h["action"] for h in cq.json("hooks", "install")["hooks"]} == {"written"}
    assert (repo / "lefthook-local.yml").read_bytes().startswith(other + b"\n# >>> cq-lsp hooks")
    cq.run("hooks", "uninstall")
    assert (repo / "lefthook-local.yml").read_bytes() == other


def test_pre_commit_runs_us_from_its_config(
    cq: Cq, repo: Path, isolated_env: dict, tmp_path: Path
) -> None:
    pre_commit = shutil.which("pre-commit")
    if pre_commit is None:
        pytest.skip("pre-commit is not installed (Debian package pre-commit, see scripts/setup.sh)")
    setup_hooks(cq)  # plain shims first: pre-commit moves them aside as its "legacy" hooks
    env = {
        **isolated_env,
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "PATH": os.path.dirname(sys.executable) + os.pathsep + isolated_env.get("PATH", ""),
    }
    (repo / ".pre-commit-config.yaml").write_text("repos: []\n")
    commit(repo, "empty pre-commit config", ".pre-commit-config.yaml")
    subprocess.run(
        [pre_commit, "install", "-t", "post-commit"],
        cwd=repo,
        env=env,
        check=True,
        capture_output=True,
    )
    assert (repo / ".git" / "hooks" / "post-commit.legacy").exists()
    st = {h["name"]: h for h in cq.json("hooks", "status")["hooks"]}
    assert st["post-commit"]["state"] == "installed"
    assert st["post-commit"]["path"].endswith("post-commit.legacy")
    write(repo, "legacy_mode.py", "L = 1\n")
    git(repo, "add", "legacy_mode.py", env=env)
    git(repo, "commit", "-q", "-m", "through pre-commit's legacy hook", env=env)
    assert "legacy_mode.py" in queued(cq)
    cq.run("hooks", "uninstall")
    assert not (repo / ".git" / "hooks" / "post-commit.legacy").exists()
    subprocess.run(
        [
            pre_commit,
            "install",
            "-t",
            "post-commit",
            "-t",
            "post-merge",
            "-t",
            "post-checkout",
            "-t",
            "post-rewrite",
        ],
        cwd=repo,
        env=env,
        check=True,
        capture_output=True,
    )
    out = cq.json("hooks", "install")
    # pre-commit has no post-index-change stage: our own shim runs that one.
    assert {h["name"]: h["action"] for h in out["hooks"]} == {
        "post-commit": "pre-commit",
        "post-merge": "pre-commit",
        "post-checkout": "pre-commit",
        "post-rewrite": "pre-commit",
        "post-index-change": "installed",
    }
    snippet = out["instructions"]
    assert "entry: cq-lsp hook post-commit" in snippet
    assert "stages: [post-commit, post-merge, post-checkout, post-rewrite]" in snippet
    # The user follows the instructions.
    config = "repos:\n" + snippet.split(":\n", 1)[1].split("then run:")[0]
    (repo / ".pre-commit-config.yaml").write_text(config)
    st = cq.json("hooks", "status")
    assert st["installed"] and {h["state"] for h in st["hooks"]} == {"pre-commit", "installed"}
    assert any("nothing to add" in n for n in cq.json("hooks", "install")["notes"])
    git(repo, "add", ".pre-commit-config.yaml", env=env)
    git(repo, "commit", "-q", "-m", "pre-commit config", env=env)
    write(repo, "pc_file.py", "P = 1\n")
    git(repo, "add", "pc_file.py", env=env)
    git(repo, "commit", "-q", "-m", "pc", env=env)
    assert "pc_file.py" in queued(cq)
    git(repo, "switch", "-q", "-c", "pc-branch", "HEAD~1", env=env)
    assert "pc_file.py" not in queued(cq)  # the checkout took it away: it left the index
    assert any("post-checkout[" in ln for ln in done_lines(repo))


def test_an_older_husky_line_is_upgraded_in_place(cq: Cq, repo: Path, npm_tools: Path) -> None:
    subprocess.run(
        ["node", str(npm_tools / "husky" / "bin.js")], cwd=repo, check=True, capture_output=True
    )
    old = "cq-lsp hook post-merge  # cq-lsp-hook v0: an earlier line\n"
    (repo / ".husky" / "post-merge").write_text("echo mine\n" + old)
    cq.run("init")
    st = {h["name"]: h["state"] for h in cq.json("hooks", "status")["hooks"]}
    assert st["post-merge"] == "missing"  # the private shim is not there yet
    out = {h["name"]: h["action"] for h in cq.json("hooks", "install")["hooks"]}
    assert out["post-merge"] == "upgraded" and out["post-commit"] == "created"
    text = (repo / ".husky" / "post-merge").read_text()
    assert text.startswith("echo mine\ng=$(git rev-parse") and "v0" not in text
    assert cq.json("hooks", "status")["installed"]
    cq.run("hooks", "uninstall")
    assert (repo / ".husky" / "post-merge").read_text() == "echo mine\n"
    assert not (repo / ".husky" / "post-commit").exists()
