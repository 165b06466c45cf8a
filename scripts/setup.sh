#!/usr/bin/env bash
# Set up everything cq-lsp needs on a fresh Debian/Ubuntu machine: system packages, a virtualenv
# in .venv with cq-lsp installed (editable) and its development tools. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(git python3-venv universal-ctags neovim pre-commit redis-server emacs-nox elpa-eglot elpa-lsp-mode)

need=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if ((${#need[@]})) && command -v apt-get >/dev/null 2>&1; then
  echo "setup: installing Debian packages: ${need[*]}"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null \
    || echo "setup: warning: could not install ${need[*]}; the tests that drive them (Neovim, Emacs," \
            "redis-server, pre-commit) will fail until they are installed" >&2
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[dev,redis]"
echo "setup: ready ($(.venv/bin/cq-lsp --version))"
bash scripts/setup_extension.sh   # the VS Code extension: npm packages, bundle, code-server for its e2e
