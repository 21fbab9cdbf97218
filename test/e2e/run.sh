#!/usr/bin/env bash
# Runs the e2e tests (after setup.sh), then tears down what they left, keeping their exit code.
set -uo pipefail
cd "$(dirname "$0")/../.."
node --test --test-concurrency=1 --test-timeout=900000 "dist/test/e2e/**/*.test.js"
rc=$?
bash test/e2e/teardown.sh || true
exit "$rc"
