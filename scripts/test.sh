#!/usr/bin/env bash
# README command 2: the whole test suite on real PostgreSQL, MinIO and OpenSearch, which this script
# installs (first run: minutes; binaries are cached under ~/.cache/chatvault) and starts itself.
# Lint and type checks run first. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh --dev
started=0
if [ -z "${CHATVAULT_TEST_NO_SERVICES:-}" ]; then
  bash scripts/services.sh start
  started=1
  set -a; . "${CHATVAULT_SERVICES_DIR:-.services}/env"; set +a
fi
cleanup() { [ "$started" = 1 ] && [ -z "${CHATVAULT_KEEP_SERVICES:-}" ] && bash scripts/services.sh stop || true; }
trap cleanup EXIT
.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
