#!/usr/bin/env bash
# `npm test`: every tier, in order (STYLE.md 13).
#   1. npm run check          typecheck, lint, dependency rules
#   2. services               scripts/services.sh up (instances default and fault); `up` is
#                             idempotent, so services already running are checked and kept
#   3. unit + integration     against the default instance (CCM_*)
#   4. fault                  last, one file at a time, against the fault instance (CCM_FAULT_*)
# Services are left running afterwards (the next run starts in seconds); stop them with
# `scripts/services.sh down [--instance fault]`. .ci/run stops them itself.
# Exits non-zero on the first failing step.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n== %s\n' "$*"; }

step "check: typecheck, lint, dependency rules"
npm run --silent check

step "services: scripts/services.sh up (default and fault instances)"
scripts/services.sh up
scripts/services.sh up --instance fault
# (assigned first, so that a failing `env` stops the script: eval "$(...)" would hide it)
default_env="$(scripts/services.sh env)"
fault_env="$(scripts/services.sh env --instance fault)"
eval "$default_env"
eval "$fault_env"

results_dir="$(mktemp -d)"
summary() {
  # The closing line CI reads: "N passed, N failed" over every tier that ran.
  node -e '
    const fs = require("fs");
    let passed = 0, failed = 0, skipped = 0;
    for (const f of process.argv.slice(1)) {
      if (!fs.existsSync(f)) continue;
      const r = JSON.parse(fs.readFileSync(f, "utf8"));
      passed += r.numPassedTests; failed += r.numFailedTests; skipped += r.numPendingTests + (r.numTodoTests || 0);
    }
    console.log(`tests: ${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ""));
  ' "$results_dir/main.json" "$results_dir/fault.json" || true
}
trap summary EXIT

step "unit and integration tests"
npx vitest run --project unit --project integration --reporter=default --reporter=json --outputFile.json="$results_dir/main.json"

step "fault tests"
# vitest exits 1 when a project has no test files: allow that only while test/fault has none.
fault_args=()
if [[ -z "$(find test/fault -name '*.test.ts' -print -quit 2>/dev/null)" ]]; then
  echo "test/fault has no *.test.ts files yet: running the fault project with --passWithNoTests"
  fault_args+=(--passWithNoTests)
fi
npx vitest run --project fault --reporter=default --reporter=json --outputFile.json="$results_dir/fault.json" "${fault_args[@]}"

step "npm test: all tiers passed"
