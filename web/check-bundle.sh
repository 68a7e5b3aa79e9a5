#!/usr/bin/env bash
# The console's checks: npm ci from the lockfile, ESLint, tsc, Vitest, then a rebuild that must equal
# the bundle committed in src/flowyard/console_dist (so `pip install` needs no Node.js and ships
# exactly what this source builds). Run by `make test` where node is present and always by .ci/run.
set -euo pipefail
cd "$(dirname "$0")"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
npm ci --no-audit --no-fund --loglevel=error
npm run --silent lint
npm run --silent typecheck
npm test --silent -- --reporter=dot
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
npx vite build --logLevel error --outDir "$out" --emptyOutDir
if ! diff -r "$out" ../src/flowyard/console_dist >/dev/null; then
  echo "The committed console bundle differs from a fresh build of web/:" >&2
  diff -rq "$out" ../src/flowyard/console_dist >&2 || true
  echo "Rebuild it with 'make console' and commit src/flowyard/console_dist." >&2
  exit 1
fi
echo "console bundle: reproducible"
