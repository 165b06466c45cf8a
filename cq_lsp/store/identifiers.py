"""Identifier splitting: ``invoice`` finds ``parseInvoice``, ``parse_invoice``, ``Invoice.parse``.

SQLite's unicode61 tokenizer splits on ``_`` and ``.`` but not inside camelCase; the index stores
the split words of every identifier in a column of their own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Humps of camelCase and PascalCase, acronyms (HTTPServer → HTTP, Server) and digit runs.
_HUMPS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_IDENT = re.compile(r"[^\W\d]\w*(?:\.[^\W\d]\w*)*")
# Identifiers worth splitting in full content: they contain an inner capital (camelCase).
_SEPARATORS = re.compile(r"[\W_]+")
# re.ASCII: the pattern is ASCII anyway, and ASCII word boundaries scan a file 1.6x faster.
_CAMEL = re.compile(r"\b[A-Za-z_][a-z0-9_]*[A-Z][A-Za-z0-9_]*\b", re.ASCII)


def split_identifier(name: str) -> list[str]:
    """Words of an identifier: ``HTTPServer.get_url`` → ``[http, server, get, url]``.

    Acronyms stay whole and digits form their own word.
    """
    words: list[str] = []
    for chunk in _SEPARATORS.split(name):
        if chunk.isascii():
            words.extend(w.lower() for w in _HUMPS.findall(chunk))
        elif chunk:
            words.append(chunk.lower())
    return words


def symbol_words(names: Iterable[str]) -> str:
    """Names and their split words, de-duplicated, as one FTS column's text."""
    seen: dict[str, None] = {}
    for name in names:
        seen.setdefault(name, None)
        for w in split_identifier(name):
            seen.setdefault(w, None)
    return " ".join(seen)


def content_words(text: str, limit: int = 5000) -> str:
    """Split words of the camelCase identifiers in a file's text (the ones FTS cannot split)."""
    seen: dict[str, None] = {}
    # Each distinct identifier is split once, however often it occurs.
    for ident in dict.fromkeys(_CAMEL.findall(text)):
        for w in split_identifier(ident):
            seen.setdefault(w, None)
        if len(seen) >= limit:
            break
    return " ".join(seen)


def query_terms(query: str) -> list[str]:
    """Terms of a natural-language query: each identifier contributes its split words."""
    terms: dict[str, None] = {}
    for m in _IDENT.finditer(query):
        parts = split_identifier(m.group(0))
        for p in parts or [m.group(0).lower()]:
            terms.setdefault(p, None)
    for m in re.finditer(r"(?<![\w.])\d+(?![\w.])", query):
        terms.setdefault(m.group(0), None)
    return list(terms)


# Words a question is made of ("where are cookies signed"): searched, never required.
STOP_WORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "either",
        "else",
        "ever",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "him",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "let",
        "me",
        "more",
        "most",
        "my",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "upon",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "whose",
        "why",
        "will",
        "with",
        "within",
        "without",
        "would",
        "you",
        "your",
        "yours",
    ]
)

# Verbs that open commit subjects and requests ("fix ...", "add ...", "remove ..."): they say what
# was done, not where. Searched, never required, and not a reason to favour a path that has them.
ACTION_WORDS = frozenset(
    """add added adds adding allow allows avoid change changed changes clean cleanup correct
    fix fixed fixes fixing handle improve improved make move moved refactor remove removed
    removes rename renamed support update updated updates updating use used""".split()  # noqa: SIM905
)

_NORM_DROP = re.compile(r"[\W_]+")
# What _NORM_DROP removes from ASCII text, for str.translate: 4x the regex's speed, and names
# are compared by the hundred per lookup (symbols.members).
_ASCII_DROP = {i: None for i in range(128) if not chr(i).isalnum()}


def normalize(name: str) -> str:
    """A name without case or separators: ``parseInvoice``, ``parse_invoice`` → ``parseinvoice``.

    The symbol and file-name tiers compare these, so any spelling of an identifier finds it."""
    if name.isascii():
        return name.translate(_ASCII_DROP).lower()
    return _NORM_DROP.sub("", name).lower()


# -- file roles: what kind of file a path is, for the ranking's priors ----------------------------

_TEST_FILE = re.compile(
    r"^(?:test_.*|.*_tests?|tests|conftest|.*_test|.*\.(?:test|spec)|.*(?:Test|Tests|IT|Spec))"
    r"\.[A-Za-z0-9]+$"
)
_ROLE_DIRS = {
    "test": {"test", "tests", "__tests__", "spec", "specs", "testing", "testsuite"},
    "fixture": {"fixtures", "fixture", "testdata", "test-data", "__fixtures__", "__snapshots__"},
    "example": {"example", "examples", "sample", "samples", "demo", "demos"},
    "vendor": {"vendor", "vendored", "third_party", "thirdparty", "third-party", "node_modules",
               "external", "extern", "deps"},
    "docs": {"doc", "docs", "documentation"},
}  # fmt: skip
_DOC_EXTS = frozenset({"md", "rst", "txt", "adoc", "markdown", "rdoc", "org"})
_DATA_EXTS = frozenset({"svg", "lock", "map", "sum", "pem", "csv", "tsv", "ipynb"})
_LOCK_FILES = frozenset(
    {"package-lock.json", "yarn.lock", "pnpm-lock.yaml", "go.sum", "cargo.lock", "poetry.lock",
     "composer.lock", "gemfile.lock", "pipfile.lock", "uv.lock", "npm-shrinkwrap.json"}
)  # fmt: skip
_GENERATED = (
    "@generated", "code generated", "do not edit", "autogenerated", "auto-generated",
    "automatically generated",
)  # fmt: skip
_BLOB = re.compile(r"[A-Za-z0-9+/=]{400,}")

#: How much a role's matches count against a source file's of the same match strength.
ROLE_PRIOR = {
    "source": 1.0,
    "docs": 0.45,
    "example": 0.6,
    "test": 0.5,
    "fixture": 0.4,
    "generated": 0.35,
    "vendor": 0.3,
    "data": 0.05,
}
#: Query words that ask for a role: its files then rank as source files do.
ROLE_WORDS = {
    "test": {"test", "tests", "testing", "spec", "specs", "unittest", "pytest"},
    "fixture": {"fixture", "fixtures", "testdata"},
    "example": {"example", "examples", "sample", "samples", "demo"},
    "docs": {"doc", "docs", "documentation", "readme", "guide", "tutorial", "changelog"},
    "vendor": {"vendor", "vendored"},
    "generated": {"generated"},
}


def file_role(path: str, text: str) -> str:
    """``source``, or why a file should rank below source files: test, fixture, example, vendor,
    docs, generated, or data (SVG, lock files, minified bundles, base64 blobs)."""
    name = path.rsplit("/", 1)[-1]
    low = name.lower()
    ext = low.rsplit(".", 1)[-1] if "." in low else ""
    if low in _LOCK_FILES or ext in _DATA_EXTS or ".min." in low:
        return "data"
    head = text[:4096]
    lines = text.count("\n") + 1
    if len(text) > 2000 and len(text) / lines > 400:  # minified: a few enormous lines
        return "data"
    blob = _BLOB.search(text)
    if blob is not None and len(text) > 2000:
        blobbed = sum(len(m.group(0)) for m in _BLOB.finditer(text))
        if blobbed > len(text) / 3:
            return "data"
    dirs = {d.lower() for d in path.split("/")[:-1]}
    for role in ("vendor", "fixture", "test", "example"):
        if dirs & _ROLE_DIRS[role]:
            return role
    if _TEST_FILE.match(name):
        return "test"
    lowered = head[:1500].lower()
    if any(m in lowered for m in _GENERATED):
        return "generated"
    if ext in _DOC_EXTS or dirs & _ROLE_DIRS["docs"]:
        return "docs"
    return "source"


def file_stem(path: str) -> str:
    """The normalized file name without its extensions: ``src/flask/helpers.py`` → ``helpers``."""
    name = path.rsplit("/", 1)[-1]
    return normalize(name.split(".", 1)[0] if not name.startswith(".") else name)
