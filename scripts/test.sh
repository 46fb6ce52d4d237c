#!/usr/bin/env bash
# Fresh machine → whole test suite: installs what is missing (test peers
# included), typechecks, lints and runs every test (unit and real-peer).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --test
npm run --silent typecheck
npm run --silent lint
npm test
