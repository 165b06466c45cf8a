"""`python -m cq_lsp` is the same program as the `cq-lsp` console script."""

from cq_lsp.cli import main

raise SystemExit(main())
