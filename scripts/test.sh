#!/usr/bin/env bash
# Set everything up (idempotently) and run the full check: lint, type check, and the test suite against
# a real redis-server and a real MongoDB-wire server that the tests start themselves.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/nox --reuse-existing-virtualenvs --sessions lint typecheck tests -- "$@"
