#!/usr/bin/env bash
# Runs the explorer's browser test (browser_test.mjs: headless Chromium through playwright-core)
# against API_URL, with its npm packages installed from the lock file into BUILD_DIR/explorer-test
# (never into the source tree), screenshots into BUILD_DIR/explorer-screenshots.
#   browser_test.sh BUILD_DIR API_URL
set -euo pipefail
build=$1 api=$2
here=$(cd "$(dirname "$0")" && pwd)
work=$build/explorer-test
mkdir -p "$work"
cp "$here/package.json" "$here/package-lock.json" "$here/browser_test.mjs" "$work/"
if ! cmp -s "$work/package-lock.json" "$work/node_modules/.package-lock.json.installed" 2>/dev/null; then
  (cd "$work" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$work/package-lock.json" "$work/node_modules/.package-lock.json.installed"
fi
rm -rf "$build/explorer-screenshots"
cd "$work"
exec node browser_test.mjs --api "$api" --screenshots "$build/explorer-screenshots"
