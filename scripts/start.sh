#!/usr/bin/env bash
# Fresh machine → running gateway: installs what is missing, then starts the
# gateway with config/default.json (REST 8081, SIP 5060, embedded RTMP 1935 and
# HTTP-FLV 8000). Extra arguments go to the gateway, e.g. --config my.json.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
# Production runs compiled JavaScript (dist/); `npm run dev` runs the sources under tsx.
npm run --silent build
if [ "$#" -eq 0 ]; then set -- --config config/default.json; fi
exec npm start --silent -- "$@"
