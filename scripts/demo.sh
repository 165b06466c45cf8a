#!/usr/bin/env bash
# The main job: set everything up, document a repository (this one by default), then show the
# status and a sample search.   Usage: scripts/demo.sh [REPOSITORY] [QUERY]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
bash "$here/scripts/setup.sh"
repo="$(cd "${1:-$here}" && pwd)"
query="${2:-parse config file}"
cq="$here/.venv/bin/cq-lsp"
"$cq" --root "$repo" init
"$cq" --root "$repo" index --wait
"$cq" --root "$repo" status
echo
echo "\$ cq-lsp search \"$query\""
"$cq" --root "$repo" search "$query" --limit 5
