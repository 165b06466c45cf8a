#!/usr/bin/env bash
# Prove the set-up + main-job command on a clean account: HOME and the XDG dirs in a new temp
# folder (so no pip cache, no virtualenv, no config of ours), no Node/npm on PATH, a fresh clone
# of this checkout. Runs `bash scripts/demo.sh` there and prints how long it took.
#   bash scripts/prove_install.sh [--keep]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d)"
if [ "${1:-}" != "--keep" ]; then trap 'rm -rf "$tmp"' EXIT; fi
mkdir -p "$tmp/home" "$tmp/bin"
# A PATH with git and python3 but without node, npm or anything in ~/.local/bin.
ln -s "$(python3 -c "import sys; print(sys.executable)")" "$tmp/bin/python3"
for tool in git sh bash env date dirname mkdir ln rm cat id sed; do
  ln -s "$(command -v "$tool")" "$tmp/bin/$tool"
done
git clone -q --no-hardlinks "$here" "$tmp/cq-lsp"
start=$(date +%s.%N)
env -i HOME="$tmp/home" PATH="$tmp/bin" LANG=C.UTF-8 TMPDIR="$tmp" \
  XDG_CONFIG_HOME="$tmp/home/.config" XDG_DATA_HOME="$tmp/home/.local/share" \
  XDG_CACHE_HOME="$tmp/home/.cache" XDG_STATE_HOME="$tmp/home/.local/state" \
  bash "$tmp/cq-lsp/scripts/demo.sh" "$tmp/cq-lsp" "worker supervisor"
took=$(python3 -c "import time; print(f'{time.time() - $start:.1f}')")
cq="$tmp/home/.local/share/cq-lsp/venv/bin/cq-lsp"
env -i HOME="$tmp/home" PATH="$tmp/bin" "$cq" --root "$tmp/cq-lsp" worker stop >/dev/null || true
found=$(env -i HOME="$tmp/home" PATH="$tmp/home/.local/bin:$tmp/bin" cq-lsp --version)
venv_mb=$(du -sm "$tmp/home/.local/share/cq-lsp/venv" | cut -f1)
for dev in pytest ruff mypy; do
  if [ -e "$tmp/home/.local/share/cq-lsp/venv/bin/$dev" ]; then
    echo "prove_install: the virtualenv holds $dev, a development tool" >&2
    exit 1
  fi
done
echo "prove_install: set-up + main job in $took s (virtualenv $venv_mb MB, no dev tools, no" \
  "node_modules); with ~/.local/bin on PATH: $found"
