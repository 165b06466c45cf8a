#!/usr/bin/env bash
# Install cq-lsp for use — the CLI, the language server and the git hooks — and nothing for
# development: git and python3-venv (Debian packages, only if missing), then a virtualenv with
# `pip install` of this checkout. Puts `cq-lsp` on PATH through ~/.local/bin, or says how.
#   bash scripts/install.sh          install (again: upgrades in place)
#   bash scripts/install.sh --bin    print the path of the installed cq-lsp
# The virtualenv: $CQ_LSP_VENV, default ${XDG_DATA_HOME:-~/.local/share}/cq-lsp/venv — outside
# the checkout, so the development .venv of scripts/setup.sh stays as it is.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
venv="${CQ_LSP_VENV:-${XDG_DATA_HOME:-$HOME/.local/share}/cq-lsp/venv}"
if [ "${1:-}" = "--bin" ]; then
  echo "$venv/bin/cq-lsp"
  exit 0
fi

need=()
command -v git >/dev/null 2>&1 || need+=(git)
PYTHON="${PYTHON:-python3}"
if ! command -v "$PYTHON" >/dev/null 2>&1; then
  need+=(python3 python3-venv)
elif ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
  need+=(python3-venv)
fi
if ((${#need[@]})); then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "install: please install ${need[*]} (Python 3.10 or newer with venv, and git)" >&2
    exit 2
  fi
  echo "install: installing Debian packages: ${need[*]}"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
  echo "install: cq-lsp needs Python 3.10 or newer; $PYTHON is $("$PYTHON" --version 2>&1)" >&2
  exit 2
fi

if [ ! -x "$venv/bin/python" ]; then
  echo "install: creating a virtualenv in $venv"
  "$PYTHON" -m venv "$venv"
fi
echo "install: pip install $here (cq-lsp and its runtime dependencies)"
"$venv/bin/python" -m pip install -q --disable-pip-version-check "$here"

bin="$HOME/.local/bin"
mkdir -p "$bin"
ln -sf "$venv/bin/cq-lsp" "$bin/cq-lsp"
echo "install: $("$venv/bin/cq-lsp" --version) installed; $bin/cq-lsp points to it"
case ":$PATH:" in
  *":$bin:"*) echo "install: cq-lsp is on your PATH" ;;
  *)
    echo "install: $bin is not on your PATH; add it (then open a new shell):"
    echo "    echo 'export PATH=\"\$HOME/.local/bin:\$PATH\"' >> ~/.profile"
    echo "  or run it as $venv/bin/cq-lsp"
    ;;
esac
