#!/usr/bin/env bash
# Every test: lint, type check, then the test suite against real git, real worker processes and
# real SQLite. Sets everything up first, so it works on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check cq_lsp tests bench
.venv/bin/mypy
.venv/bin/python -m pytest -q "$@"
# The VS Code extension (lint, types, unit, .vsix, real VS Code e2e); skipped when pytest args pick a subset.
if [ $# -eq 0 ]; then bash scripts/test_extension.sh; fi
