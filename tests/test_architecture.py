"""The package layout is the architecture: faces over core, no cycles, no upward imports.

docs/architecture.md draws the same layers; a change that breaks them fails here, whatever the
module's size, so a newcomer can trust the tree to say where a change goes and what it may import.
"""

from __future__ import annotations

import ast
import json
import re
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cq_lsp"
REPO = PACKAGE.parent

# Lowest first. A module may import its own package and any package of a lower layer.
LAYERS: dict[str, int] = {
    "errors": 0,
    "atomic": 0,
    "humanize": 0,
    "worktree": 1,
    "config": 2,
    "documenters": 3,
    "store": 4,
    "core": 5,
    "worker": 6,
    "githooks": 6,
    "commands": 7,
    "mcp": 8,
    "lsp": 8,
    "cli": 9,  # the program's entry: it launches the other faces (serve, mcp, hook)
}
# The hook path runs on every commit: it must not pay for the language server's imports.
HOOK_PATH_FORBIDDEN = ("pygls", "lsprotocol")


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _imports(module: str, path: Path) -> set[str]:
    """Every cq_lsp module this one imports, at the top or inside a function."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    # Imports under `if TYPE_CHECKING:` never run: they are annotations, not dependencies.
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            node.body = []
    names: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.startswith("cq_lsp"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if not base.startswith("cq_lsp"):
                continue
            names.add(base)
            names.update(f"{base}.{a.name}" for a in node.names)
    known = _modules()
    return {n for n in names if n in known and n != module}


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_package_has_a_layer() -> None:
    packages = {_package(m) for m in _modules()} - {"", "__main__"}
    assert packages <= set(LAYERS), f"give these packages a layer: {packages - set(LAYERS)}"


def test_no_upward_or_sideways_imports_between_packages() -> None:
    wrong = []
    for module, path in _modules().items():
        mine = _package(module)
        if mine in ("", "__main__"):
            continue
        for target in _imports(module, path):
            theirs = _package(target)
            if theirs in ("", mine):
                continue
            if LAYERS[theirs] >= LAYERS[mine]:
                wrong.append(f"{module} imports {target} ({mine} is not above {theirs})")
    assert not wrong, "\n".join(sorted(wrong))


def test_no_import_cycles_between_modules() -> None:
    graph = {m: _imports(m, p) for m, p in _modules().items()}
    # Importing a submodule imports its package's __init__ too; those are not cycles of ours.
    graph = {m: {t for t in ts if not m.startswith(t + ".")} for m, ts in graph.items()}
    state: dict[str, int] = defaultdict(int)
    stack: list[str] = []
    cycles: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state[nxt] == 1:
                cycles.append(" -> ".join([*stack[stack.index(nxt) :], nxt]))
            elif state[nxt] == 0:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if state[node] == 0:
            visit(node)
    assert not cycles, "\n".join(cycles)


def _reachable(start: str) -> set[str]:
    graph = {m: _imports(m, p) for m, p in _modules().items()}
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        todo.extend(graph.get(node, ()))
    return seen


@pytest.mark.parametrize("entry", ["cq_lsp.githooks.entry", "cq_lsp.cli.hooks"])
def test_the_hook_path_never_imports_the_language_server(entry: str) -> None:
    offenders = []
    for module in _reachable(entry):
        if _package(module) in ("lsp", "mcp"):
            offenders.append(f"{module} (a face)")
        text = _modules()[module].read_text(encoding="utf-8")
        for name in HOOK_PATH_FORBIDDEN:
            if re.search(rf"^\s*(import|from) {name}\b", text, re.M):
                offenders.append(f"{module} imports {name}")
    assert not offenders, offenders


def test_no_comment_or_doc_cites_a_file_outside_the_repository() -> None:
    outside = re.compile(r"\b(DESIGN\.md|LSP_CONTRACT\.md|shared/notes)\b")
    hits = []
    sources = [
        *PACKAGE.rglob("*.py"),
        *(REPO / "tests").rglob("*.py"),
        *(REPO / "bench").glob("*.*"),
        *(REPO / "editor-extension" / "src").rglob("*.ts"),
        *(REPO / "editor-extension" / "test").rglob("*.ts"),
        *REPO.glob("*.md"),
        *(REPO / "docs").rglob("*.md"),
    ]
    for path in sources:
        if path.name == "test_architecture.py":
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if outside.search(line):
                hits.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
    assert not hits, "\n".join(hits)


def test_the_architecture_doc_names_every_package() -> None:
    doc = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    modules = ("errors", "atomic", "humanize")
    missing = [p for p in LAYERS if p not in modules and f"`{p}/`" not in doc]
    assert not missing, f"docs/architecture.md does not describe: {missing}"


def test_the_extension_manifest_at_the_root_is_packageable() -> None:
    # The extension manifest sits at the root (a contract); a broken one breaks packaging.
    manifest = json.loads((REPO / "package.json").read_text(encoding="utf-8"))
    assert manifest["name"] == "cq-lsp" and manifest["engines"]["vscode"]
    assert (REPO / manifest["main"].lstrip("./")).parent.name == "dist", manifest["main"]
