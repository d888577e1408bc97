#!/usr/bin/env bash
# Installs the pinned peers (package-lock.json) into test-vectors/gen/dehydrated/node_modules
# (gitignored). Used by run.sh, ../bundle/run.sh and ../../interop/dehydrated.mjs's users; a no-op
# when the four pinned packages are already there at their pinned versions.
set -euo pipefail
cd "$(dirname "$0")"
if ! node -e '
  const fs = require("fs");
  const want = require("./package.json").dependencies;
  for (const [name, version] of Object.entries(want)) {
    const p = `node_modules/${name}/package.json`;
    if (!fs.existsSync(p) || JSON.parse(fs.readFileSync(p, "utf8")).version !== version) process.exit(1);
  }' 2>/dev/null; then
  npm ci --no-audit --no-fund --loglevel=error
fi
