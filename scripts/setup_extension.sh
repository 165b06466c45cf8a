#!/usr/bin/env bash
# Set up the VS Code extension: its Node packages (npm ci) and bundle, and, for its end-to-end
# test, real VS Code — code-server with playwright-core, installed once into a cache folder
# outside the repository (keyed by their lockfile) — plus Debian's chromium. Safe to run again.
#   bash scripts/setup_extension.sh              set up everything
#   bash scripts/setup_extension.sh --tools-dir  print where the end-to-end tools live
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS_SRC=editor-extension/test/e2e/tools
TOOLS_HASH=$(sha256sum "$TOOLS_SRC/package-lock.json" | cut -c1-12)
TOOLS=${CQ_E2E_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/cq-lsp/e2e-tools-$TOOLS_HASH}
if [ "${1:-}" = "--tools-dir" ]; then
  echo "$TOOLS"
  exit 0
fi

# unzip: test_extension.sh lists the .vsix with it. chromium drives code-server; ripgrep seeds
# @vscode/ripgrep (its postinstall would download from GitHub); the build tools compile
# code-server's native modules (argon2, kerberos, node-pty).
APT_PACKAGES=(chromium ripgrep build-essential pkg-config python3 libkrb5-dev git unzip)
need=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if ((${#need[@]})) && command -v apt-get >/dev/null 2>&1; then
  echo "setup_extension: installing Debian packages: ${need[*]}"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "setup_extension: node and npm are needed (Node 20 or newer): install them, e.g. from nodejs.org or your distribution" >&2
  exit 2
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "setup_extension: Node $(node --version) is too old; the extension's tools need Node 20 or newer" >&2
  exit 2
fi

# npm ci starts from scratch each time; skip it while node_modules matches the lockfile.
lock_sha=$(sha256sum package-lock.json | cut -c1-16)
if [ "$(cat node_modules/.cq-lock-sha 2>/dev/null)" != "$lock_sha" ]; then
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_sha" > node_modules/.cq-lock-sha
fi
npm run -s build

if [ ! -x "$TOOLS/node_modules/.bin/code-server" ]; then
  echo "setup_extension: installing code-server and playwright-core into $TOOLS (once; about a minute)"
  partial="$TOOLS.partial.$$"
  rm -rf "$partial"
  mkdir -p "$partial/tmp"
  cp "$TOOLS_SRC/package.json" "$TOOLS_SRC/package-lock.json" "$partial/"
  # @vscode/ripgrep downloads rg from GitHub unless its cache already holds the tarball.
  rgc="$partial/tmp/vscode-ripgrep-cache-1.15.11"
  mkdir -p "$rgc"
  cp "$(command -v rg)" "$partial/tmp/rg"
  tar czf "$rgc/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" -C "$partial/tmp" rg
  # unsafe_perm: code-server's postinstall refuses root otherwise; yes: node-pty runs
  # `npx node-gyp`; nodedir: build native modules against the installed Node's headers.
  node_prefix=$(dirname "$(dirname "$(command -v node)")")
  (cd "$partial" && TMPDIR="$partial/tmp" npm_config_unsafe_perm=true npm_config_yes=true \
    npm_config_nodedir="${npm_config_nodedir:-$node_prefix}" \
    npm ci --no-audit --no-fund --loglevel=error)
  rm -rf "$partial/tmp"
  rm -rf "$TOOLS"
  mv "$partial" "$TOOLS"
fi
echo "setup_extension: ready (extension bundle in dist/, code-server $(node -p "require('$TOOLS/node_modules/code-server/package.json').version") in $TOOLS)"
