"""Tree-sitter extraction for the static documenter, one module per language family.

Each language module exposes ``extract(src, root, local_modules) -> Extraction``. Extraction walks
only the top level of the tree and the bodies of type declarations (targeted child iteration), so
the cost is proportional to the number of declarations rather than the number of nodes.
"""

from __future__ import annotations

from collections.abc import Callable

from tree_sitter import Node

from cq_lsp.documenters.treesitter import go, java, javascript, python, rust, tags
from cq_lsp.documenters.treesitter.common import Extraction, Source, parse

Extractor = Callable[[Source, Node, frozenset[str]], Extraction]

EXTRACTORS: dict[str, Extractor] = {
    "python": python.extract,
    "javascript": javascript.extract,
    "typescript": javascript.extract,
    "tsx": javascript.extract,
    "go": go.extract,
    "rust": rust.extract,
    "java": java.extract,
    **{language: tags.make_extractor(language) for language in tags.SPECS},
}

__all__ = ["EXTRACTORS", "Extraction", "Extractor", "Source", "parse"]
