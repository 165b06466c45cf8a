"""cq-lsp: keeps a searchable documentation index of a git repository fresh while people work."""

__version__ = "0.1.0"
