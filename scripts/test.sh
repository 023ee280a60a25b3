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

step "unit and integration tests"
npx vitest run --project unit --project integration

step "fault tests"
# vitest exits 1 when a project has no test files: allow that only while test/fault has none.
fault_args=()
if [[ -z "$(find test/fault -name '*.test.ts' -print -quit 2>/dev/null)" ]]; then
  echo "test/fault has no *.test.ts files yet: running the fault project with --passWithNoTests"
  fault_args+=(--passWithNoTests)
fi
npx vitest run --project fault "${fault_args[@]}"

step "npm test: all tiers passed"
