#!/usr/bin/env bash
# The main job on a fresh machine: install cq-lsp (scripts/install.sh: git, python3-venv and a
# virtualenv with `pip install .` — no development tools, no Node), document a repository (this
# checkout by default) and search it.   Usage: scripts/demo.sh [REPOSITORY] [QUERY]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
start=$(date +%s)
bash "$here/scripts/install.sh"
cq="$(bash "$here/scripts/install.sh" --bin)"
repo="$(cd "${1:-$here}" && pwd)"
query="${2:-parse config file}"
"$cq" --root "$repo" init
"$cq" --root "$repo" index --wait
"$cq" --root "$repo" status
echo
echo "\$ cq-lsp search \"$query\""
"$cq" --root "$repo" search "$query" --limit 5
echo
echo "demo: done in $(($(date +%s) - start)) s. Next: \`cq-lsp hooks install\` in $repo keeps the" \
  "index fresh on every commit; the worker exits by itself after 15 idle minutes" \
  "(\`cq-lsp worker stop\` now)."
