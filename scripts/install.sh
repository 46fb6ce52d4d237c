#!/usr/bin/env bash
# Installs everything the gateway and its tests need on a fresh Debian machine.
# The gateway itself needs only the npm packages (its codecs are libavcodec
# inside the process, from the node-av package) and a C++ toolchain to build
# the SQLite binding of the capture store. With --test: the Debian
# packages of the test suite's real peers (ffmpeg/ffprobe, SIPp, nginx with its
# RTMP module, Kamailio, baresip with its FFmpeg video modules, Chromium, Redis
# for the cluster tests); with
# --bench, those and tcpdump. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

test_pkgs=(ffmpeg sip-tester nginx libnginx-mod-rtmp kamailio openssl baresip-core baresip-ffmpeg chromium redis-server)
# The capture store's SQLite binding (better-sqlite3) compiles at install when no prebuilt binary can be fetched.
pkgs=(python3 make g++)
if [ "${1:-}" = "--test" ] || [ "${1:-}" = "--bench" ]; then pkgs+=("${test_pkgs[@]}"); fi
# The benchmarks also capture RTP on loopback (bench/lib/latency.ts).
if [ "${1:-}" = "--bench" ]; then pkgs+=(tcpdump); fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "installing npm packages"
  # node-av's own install script would download an ffmpeg binary we do not use (its libavcodec
  # comes in the @seydx/node-av-linux-x64 package): skipped here and in package.json (allowScripts).
  SKIP_FFMPEG=true npm ci --no-audit --no-fund --loglevel=error
fi
