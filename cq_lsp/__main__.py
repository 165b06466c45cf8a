"""`python -m cq_lsp` is the same program as the `cq-lsp` console script."""

import os
import sys

# `python -m` puts the current directory first on sys.path, and editors start the server from
# the repository being documented: a folder there named like one of our dependencies
# (`lsprotocol/`, `huey.py` ...) would be imported and run. Nothing of the documented repository
# may be imported, so the directory goes before anything else is imported.
if sys.path and os.path.realpath(sys.path[0] or os.curdir) == os.path.realpath(os.getcwd()):
    del sys.path[0]

from cq_lsp.cli.main import main  # after the sys.path fix, on purpose

raise SystemExit(main())
