#!/usr/bin/env bash
# The VS Code extension's tests: lint, type check, unit tests (node:test), the .vsix package,
# then the end-to-end test in real VS Code (code-server + playwright-core + Debian chromium)
# against the real language server and worker. Screenshots: test-artifacts/vscode-e2e/.
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS=$(bash scripts/setup_extension.sh --tools-dir)
if [ ! -d node_modules ] || [ ! -x "$TOOLS/node_modules/.bin/code-server" ]; then
  bash scripts/setup_extension.sh
fi
if [ ! -x .venv/bin/python ]; then
  echo "test_extension: .venv is missing: run bash scripts/setup.sh first" >&2
  exit 2
fi

echo "== extension: eslint"
npm run -s lint
echo "== extension: tsc (strict)"
npm run -s typecheck
echo "== extension: unit tests"
npm test --silent
echo "== extension: package"
version=$(node -p 'require("./package.json").version')
vsix="dist/cq-lsp-$version.vsix"
rm -f "$vsix"
npm run -s package >/dev/null
# The package holds the manifest, the README and the bundle — no sources, no node_modules.
listing=$(unzip -Z1 "$vsix")
for want in extension/package.json extension/dist/extension.js extension/dist/client.js extension/readme.md; do
  grep -qix "$want" <<<"$listing" || { echo "test_extension: $vsix lacks $want" >&2; exit 1; }
done
if grep -E '^extension/(node_modules|editor-extension|cq_lsp|tests|\.venv)/' <<<"$listing" >/dev/null; then
  echo "test_extension: $vsix holds files it should not:" >&2
  grep -E '^extension/(node_modules|editor-extension|cq_lsp|tests|\.venv)/' <<<"$listing" | head >&2
  exit 1
fi
echo "$vsix: $(wc -l <<<"$listing") files, $(du -k "$vsix" | cut -f1) KiB"

echo "== extension: end-to-end in code-server"
node editor-extension/test/e2e/run.mjs --tools "$TOOLS" --vsix "$vsix" --python .venv/bin/python
