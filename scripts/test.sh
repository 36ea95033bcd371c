#!/usr/bin/env bash
# The whole suite: formatting and lint, both addon builds, unit tests, then the kernel e2e tests
# (real BPF, real namespaces, a real Docker engine), one file at a time; among them the packed
# tarball installed in a minimal Debian root with no compiler (test/e2e/install) and the image
# built from the Dockerfile (test/e2e/docker/image.test.ts); then the same kernel scenarios
# inside Debian's older kernels under qemu.
set -uo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
status=0

step() { echo; echo "== $*"; }

step "lint"
npm run --silent lint || status=1

step "binding.gyp builds the same addon (node-gyp): layout and decode tests against it"
npm run --silent build:gyp >"$out/gyp.log" 2>&1 || { cat "$out/gyp.log"; status=1; }
DROPTRACE_ADDON="$PWD/build/Release/droptrace.node" npx vitest run test/unit/layout.test.ts test/unit/decode.test.ts \
  --reporter=default --reporter=json --outputFile.json="$out/gyp.json" || status=1

step "unit tests"
npx vitest run test/unit --reporter=default --reporter=json --outputFile.json="$out/unit.json" || status=1

step "e2e tests (kernel, namespaces, containers, the installed package, the image)"
# one retry: these tests share a 2-core machine with whatever else runs; a test that fails twice fails
npx vitest run test/e2e --no-file-parallelism --retry=1 --reporter=default --reporter=json --outputFile.json="$out/e2e.json" || status=1

step "VM matrix: Debian's 5.10, 6.1 and 6.12 under qemu (test/vm)"
# guests one at a time, software emulation: about 4-6 minutes per kernel on two cores
bash test/vm/run.sh || status=1

# one plain closing line over both runs
node -e '
  const fs = require("fs");
  let passed = 0, failed = 0, skipped = 0;
  for (const f of process.argv.slice(1)) {
    if (!fs.existsSync(f)) { failed++; continue; }
    const r = JSON.parse(fs.readFileSync(f, "utf8"));
    passed += r.numPassedTests; failed += r.numFailedTests + (r.numTotalTestSuites && !r.numTotalTests ? 1 : 0);
    skipped += r.numPendingTests + r.numTodoTests;
  }
  console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
  if (process.env.CI === "true" && skipped > 0) { console.log("CI: kernel tests must not skip"); process.exit(1); }
' "$out/gyp.json" "$out/unit.json" "$out/e2e.json" || status=1
rm -rf "$out"
exit $status
