"""Language detection by file name, shared by the crawler and the documenters."""

from __future__ import annotations

import posixpath

# The languages the static documenter parses with tree-sitter; everything else gets a generic
# record built from the text alone.
TREE_SITTER_LANGUAGES: frozenset[str] = frozenset(
    {"python", "javascript", "typescript", "tsx", "go", "rust", "java"}
    | {"c", "cpp", "csharp", "ruby", "php", "kotlin", "swift", "scala", "lua", "shell"}
    | {"elixir", "julia", "haskell", "ocaml"}
)

# Human-readable names used in generated overviews and notes.
DISPLAY_NAMES: dict[str, str] = {
    "python": "Python",
    "javascript": "JavaScript",
    "typescript": "TypeScript",
    "tsx": "TSX",
    "go": "Go",
    "rust": "Rust",
    "java": "Java",
    "c": "C",
    "cpp": "C++",
    "csharp": "C#",
    "ruby": "Ruby",
    "php": "PHP",
    "kotlin": "Kotlin",
    "swift": "Swift",
    "scala": "Scala",
    "lua": "Lua",
    "shell": "Shell",
    "elixir": "Elixir",
    "julia": "Julia",
    "haskell": "Haskell",
    "ocaml": "OCaml",
    "markdown": "Markdown",
    "restructuredtext": "reStructuredText",
    "asciidoc": "AsciiDoc",
    "yaml": "YAML",
    "toml": "TOML",
    "json": "JSON",
    "dockerfile": "Dockerfile",
    "makefile": "Makefile",
    "sql": "SQL",
}

_EXTENSIONS: dict[str, str] = {
    # Parsed with tree-sitter.
    ".py": "python",
    ".pyi": "python",
    ".pyw": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascript",
    ".ts": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".tsx": "tsx",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
    # Text only.
    ".md": "markdown",
    ".markdown": "markdown",
    ".mdx": "markdown",
    ".rst": "restructuredtext",
    ".txt": "text",
    ".json": "json",
    ".jsonc": "json",
    ".json5": "json",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".toml": "toml",
    ".ini": "ini",
    ".cfg": "ini",
    ".sh": "shell",
    ".bash": "shell",
    ".zsh": "shell",
    ".fish": "shell",
    ".ps1": "powershell",
    ".bat": "batch",
    ".cmd": "batch",
    ".c": "c",
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".cxx": "cpp",
    ".hpp": "cpp",
    ".hh": "cpp",
    ".hxx": "cpp",
    ".cs": "csharp",
    ".rb": "ruby",
    ".php": "php",
    ".kt": "kotlin",
    ".kts": "kotlin",
    ".swift": "swift",
    ".scala": "scala",
    ".groovy": "groovy",
    ".gradle": "groovy",
    ".lua": "lua",
    ".pl": "perl",
    ".pm": "perl",
    ".r": "r",
    ".dart": "dart",
    ".jl": "julia",
    ".adoc": "asciidoc",
    ".asciidoc": "asciidoc",
    ".rake": "ruby",
    ".gemspec": "ruby",
    ".sc": "scala",
    ".ex": "elixir",
    ".exs": "elixir",
    ".erl": "erlang",
    ".hs": "haskell",
    ".ml": "ocaml",
    ".mli": "ocaml",
    ".clj": "clojure",
    ".zig": "zig",
    ".nim": "nim",
    ".html": "html",
    ".htm": "html",
    ".xml": "xml",
    ".svg": "xml",
    ".css": "css",
    ".scss": "scss",
    ".sass": "sass",
    ".less": "less",
    ".vue": "vue",
    ".svelte": "svelte",
    ".sql": "sql",
    ".proto": "protobuf",
    ".graphql": "graphql",
    ".gql": "graphql",
    ".tf": "terraform",
    ".hcl": "hcl",
    ".csv": "csv",
    ".tsv": "csv",
    ".dockerfile": "dockerfile",
    ".mk": "makefile",
    ".cmake": "cmake",
    ".nix": "nix",
}

_FILENAMES: dict[str, str] = {
    "dockerfile": "dockerfile",
    "containerfile": "dockerfile",
    "makefile": "makefile",
    "gnumakefile": "makefile",
    "cmakelists.txt": "cmake",
    "gemfile": "ruby",
    "rakefile": "ruby",
    "jenkinsfile": "groovy",
    "vagrantfile": "ruby",
    ".bashrc": "shell",
    ".bash_profile": "shell",
    ".zshrc": "shell",
    ".profile": "shell",
    ".gitignore": "gitignore",
    ".dockerignore": "gitignore",
    ".gitattributes": "gitattributes",
    ".editorconfig": "ini",
    "go.mod": "gomod",
    "go.sum": "gosum",
    "pipfile": "toml",
}


def detect_language(path: str) -> str:
    """Return the language name for ``path`` (a POSIX path), ``"text"`` when nothing matches."""
    base = posixpath.basename(path.replace("\\", "/")).lower()
    by_name = _FILENAMES.get(base)
    if by_name is not None:
        return by_name
    if base.startswith("dockerfile."):
        return "dockerfile"
    _stem, ext = posixpath.splitext(base)
    return _EXTENSIONS.get(ext, "text")
