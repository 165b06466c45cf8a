"""Check the static documenter's definitions per language against Universal Ctags, on real code.

For every language with a corpus this machine can reach (Debian packages that ship sources, PyPI
sdists, npm tarballs, the running Python's standard library), the same files go through
``ctags --output-format=json`` (Debian's universal-ctags) and through ``StaticDocumenter`` in
process. Definitions of the kinds function/method/class/struct/interface/enum/module/type are
compared by (file, name, line ± 1): recall is the share of ctags' definitions we find, precision
the share of ours ctags also finds. The documenter's files/s per language is printed too.

Downloads go to a cache directory (``--cache``, default ``~/.cache/cq-lsp-bench/languages``) and
are reused; nothing is written to the repository. A source that cannot be fetched is skipped with
a note. Figures are printed, never asserted: exit status 1 only when ctags is missing or the
documenter raised. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cq_lsp.documenters.base import DocumentContext  # noqa: E402
from cq_lsp.documenters.languages import DISPLAY_NAMES, detect_language  # noqa: E402
from cq_lsp.documenters.static import StaticDocumenter  # noqa: E402

DEFAULT_CACHE = Path.home() / ".cache" / "cq-lsp-bench" / "languages"
MAX_FILES = 60
MAX_BYTES = 300_000

# language -> (ctags --language-force name, sources). A source is ("deb", package),
# ("pypi", sdist name), ("npm", package) or ("stdlib", "") — plus a path filter (substring).
CORPUS: dict[str, tuple[str, list[tuple[str, str, str]]]] = {
    "python": ("Python", [("stdlib", "", "")]),
    "javascript": (
        "JavaScript",
        [("npm", "express", "lib/"), ("npm", "commander", "lib/"), ("npm", "body-parser", "")],
    ),
    "typescript": ("TypeScript", [("npm", "zod", "src/")]),
    "go": ("Go", [("deb", "golang-github-gin-gonic-gin-dev", "")]),
    "rust": ("Rust", [("deb", "librust-regex-syntax-dev", "")]),
    "java": ("Java", [("pypi", "jpype1", "")]),
    "c": ("C", [("pypi", "psutil", ""), ("pypi", "cffi", "")]),
    "cpp": ("C++", [("pypi", "greenlet", ""), ("pypi", "kiwisolver", "")]),
    "csharp": ("C#", [("pypi", "pythonnet", "")]),
    "ruby": ("Ruby", [("deb", "ruby-rack", ""), ("deb", "ruby-thor", "")]),
    "php": ("PHP", [("deb", "php-symfony-console", ""), ("deb", "php-league-commonmark", "")]),
    "kotlin": ("Kotlin", [("npm", "expo-modules-core", "")]),
    "lua": ("Lua", [("deb", "lua-penlight", ""), ("deb", "lua-luassert", "")]),
    "shell": ("Sh", [("deb", "bash-completion", "completions/")]),
    "ocaml": ("OCaml", [("deb", "ocaml", "")]),
    "elixir": ("Elixir", [("npm", "phoenix", "")]),
    "julia": ("Julia", [("pypi", "juliacall", "")]),
    # Swift and Scala: universal-ctags has no parser for them (checked by the tests instead).
}

COMPARED = frozenset(
    {"function", "method", "class", "struct", "interface", "enum", "module", "type"}
)
# ctags' long kind names mapped onto ours; kinds not listed are not compared.
CTAGS_KINDS = {
    "function": "function", "method": "method", "class": "class", "struct": "struct",
    "interface": "interface", "enum": "enum", "module": "module", "type": "type",
    "typedef": "type", "namespace": "module", "union": "struct", "singletonMethod": "method",
    "trait": "interface", "protocol": "interface", "object": "class", "typealias": "type",
    "delegate": "function", "guard": "function", "implementation": "",
    "subroutine": "function", "func": "function", "macro": "",
}  # fmt: skip


def _run(cmd: list[str], cwd: Path) -> bool:
    try:
        subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, timeout=300)
        return True
    except (OSError, subprocess.SubprocessError):
        return False


def fetch(kind: str, name: str, cache: Path, notes: list[str]) -> Path | None:
    """The unpacked source tree of one corpus source, fetched once into ``cache``."""
    if kind == "stdlib":
        return Path(sysconfig.get_paths()["stdlib"])
    target = cache / f"{kind}-{name}"
    if target.is_dir():
        return target
    work = cache / f".{kind}-{name}.tmp"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    if kind == "deb":
        ok = _run(["apt-get", "download", "--", name], work)
        debs = list(work.glob("*.deb"))
        ok = ok and bool(debs) and _run(["dpkg-deb", "-x", str(debs[0]), "tree"], work)
    elif kind == "pypi":
        ok = _run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-binary", ":all:", "--no-deps",
             "-d", ".", "--", name],
            work,
        )  # fmt: skip
        archives = [p for p in work.iterdir() if p.name.endswith((".tar.gz", ".tgz"))]
        ok = ok and bool(archives) and _untar(archives[0], work / "tree")
    elif kind == "npm":
        ok = _run(["npm", "pack", "-q", "--", name], work)
        archives = list(work.glob("*.tgz"))
        ok = ok and bool(archives) and _untar(archives[0], work / "tree")
    else:
        ok = False
    if not ok:
        notes.append(f"could not fetch {kind} {name}; skipped")
        shutil.rmtree(work, ignore_errors=True)
        return None
    (work / "tree").rename(target)
    shutil.rmtree(work, ignore_errors=True)
    return target


def _untar(archive: Path, dest: Path) -> bool:
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(dest, filter="data")
        return True
    except (OSError, tarfile.TarError):
        return False


def select_files(language: str, roots: list[tuple[Path, str]], limit: int) -> list[Path]:
    found: list[Path] = []
    for root, needle in roots:
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root).as_posix()
            if not path.is_file() or (needle and needle not in rel) or "site-packages" in rel:
                continue
            if "/test" in f"/{rel}" and language != "python":
                continue
            lang = "shell" if language == "shell" and "." not in path.name else detect_language(rel)
            if lang != language or path.stat().st_size > MAX_BYTES:
                continue
            found.append(path)
    if len(found) > limit:
        step = len(found) / limit
        found = [found[int(i * step)] for i in range(limit)]
    return found


def ctags_defs(files: list[Path], force: str) -> set[tuple[str, str, int]]:
    out = subprocess.run(
        ["ctags", "--output-format=json", "--fields=+nKZ", f"--language-force={force}",
         "-f", "-", *map(str, files)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    defs: set[tuple[str, str, int]] = set()
    for line in out.stdout.splitlines():
        try:
            tag = json.loads(line)
        except ValueError:
            continue
        if tag.get("_type") != "tag":
            continue
        kind = ctags_kind(force, tag.get("kind", ""))
        # Names ctags makes up: anonymous structs and functions, Kotlin lambdas, OCaml's module
        # of the whole file on line 1.
        anonymous = (
            tag["name"].startswith(("__anon", "AnonymousFunction", "<lambda>"))
            or (
                "<lambda>" in tag.get("scope", "")  # Kotlin: ctags calls lambda parameters methods
            )
            or (force == "OCaml" and tag.get("kind") == "module" and tag.get("line") == 1)
        )
        if language_kind_ok(force, tag.get("kind", "")) and kind in COMPARED and not anonymous:
            defs.add((tag["path"], short(tag["name"]), int(tag.get("line", 0))))
    return defs


# Kinds ctags gives to what is no definition of the file: Python's imports.
_NOT_DEFINITIONS = {"Python": {"namespace", "module", "unknown"}}


# Python's ctags "member" is a method; elsewhere it is a field.
_MEMBER_IS_METHOD = frozenset({"Python"})


def language_kind_ok(force: str, kind: str) -> bool:
    return kind not in _NOT_DEFINITIONS.get(force, ())


def ctags_kind(force: str, kind: str) -> str:
    if kind == "member" and force in _MEMBER_IS_METHOD:
        return "method"
    if kind == "alias" and force == "TypeScript":  # `type X = …`; PHP's alias is a `use`
        return "type"
    return CTAGS_KINDS.get(kind, "")


def short(name: str) -> str:
    """The last part of a qualified name, spelled the way both tools can agree on."""
    for sep in ("::", "#", ".", ":"):
        if sep in name.strip(sep):
            name = name.rsplit(sep, 1)[1]
    # ctags writes `operator <<` and drops Ruby's `?`/`!`; tree-sitter keeps the source text.
    return name.replace(" ", "").lstrip(":").rstrip("?!")


def our_defs(
    files: list[Path], language: str, errors: list[str]
) -> tuple[set[tuple[str, str, int]], float]:
    doc = StaticDocumenter()
    ctx = DocumentContext()
    defs: set[tuple[str, str, int]] = set()
    texts = [(p, p.read_text("utf-8", errors="surrogateescape")) for p in files]
    start = time.perf_counter()
    for path, text in texts:
        try:
            record = doc.document(str(path), text, language, ctx)
        except Exception as exc:
            errors.append(f"{language} {path}: {type(exc).__name__}: {exc}")
            continue
        for sym in record.symbols:
            if sym["kind"] in COMPARED:
                defs.add((str(path), short(sym["name"]), int(sym["line"])))
    elapsed = time.perf_counter() - start
    return defs, len(files) / elapsed if elapsed > 0 else 0.0


def compare(
    ours: set[tuple[str, str, int]], theirs: set[tuple[str, str, int]]
) -> tuple[int, int, list[tuple[str, str, int]], list[tuple[str, str, int]]]:
    index: dict[tuple[str, str], list[int]] = {}
    for path, name, line in ours:
        index.setdefault((path, name), []).append(line)
    found = [t for t in theirs if any(abs(x - t[2]) <= 1 for x in index.get(t[:2], ()))]
    back: dict[tuple[str, str], list[int]] = {}
    for path, name, line in theirs:
        back.setdefault((path, name), []).append(line)
    right = [o for o in ours if any(abs(x - o[2]) <= 1 for x in back.get(o[:2], ()))]
    missed = sorted(set(theirs) - set(found))
    extra = sorted(set(ours) - set(right))
    return len(found), len(right), missed, extra


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    p.add_argument("--files", type=int, default=MAX_FILES, help="files per language")
    p.add_argument("--only", nargs="*", help="languages to run (default: all)")
    p.add_argument("--show", type=int, default=0, help="print N misses/extras per language")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if shutil.which("ctags") is None:
        print(
            "ctags not found: install Debian's universal-ctags (scripts/setup.sh)", file=sys.stderr
        )
        return 1
    args.cache.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    errors: list[str] = []
    rows: list[dict[str, Any]] = []
    for language, (force, sources) in CORPUS.items():
        if args.only and language not in args.only:
            continue
        roots = []
        for kind, name, needle in sources:
            root = fetch(kind, name, args.cache, notes)
            if root is not None:
                roots.append((root, needle))
        files = select_files(language, roots, args.files)
        if not files:
            notes.append(f"{language}: no files in the corpus; skipped")
            continue
        theirs = ctags_defs(files, force)
        ours, rate = our_defs(files, language, errors)
        found, right, missed, extra = compare(ours, theirs)
        row = {
            "language": DISPLAY_NAMES.get(language, language),
            "corpus": ", ".join(f"{k}:{n}" if n else k for k, n, _ in sources),
            "files": len(files),
            "ctags": len(theirs),
            "ours": len(ours),
            "recall": found / len(theirs) if theirs else None,
            "precision": right / len(ours) if ours else None,
            "filesPerS": round(rate),
            "missed": [f"{Path(p).name}:{n}:{ln}" for p, n, ln in missed[: args.show]],
            "extra": [f"{Path(p).name}:{n}:{ln}" for p, n, ln in extra[: args.show]],
        }
        rows.append(row)
        print(f"{language}: {len(files)} files", file=sys.stderr)
    if args.json:
        print(json.dumps({"rows": rows, "notes": notes, "errors": errors}, indent=2))
    else:
        print(
            "| language | corpus | files | ctags defs | our defs | recall | precision | files/s |"
        )
        print("|---|---|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            rec = "n/a" if r["recall"] is None else f"{r['recall']:.3f}"
            pre = "n/a" if r["precision"] is None else f"{r['precision']:.3f}"
            print(
                f"| {r['language']} | {r['corpus']} | {r['files']} | {r['ctags']} | {r['ours']} "
                f"| {rec} | {pre} | {r['filesPerS']} |"
            )
        for r in rows:
            if r["missed"] or r["extra"]:
                print(f"\n{r['language']} missed: {', '.join(r['missed'])}")
                print(f"{r['language']} extra: {', '.join(r['extra'])}")
        for note in notes + errors:
            print(f"note: {note}")
    return 1 if errors else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
