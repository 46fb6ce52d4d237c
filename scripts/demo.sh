#!/usr/bin/env bash
# The whole product in one minute, no SIP device needed, everything on loopback:
#   1. starts the gateway (scripts/demo.json),
#   2. starts a far end: a SIPp UAS (test/fixtures/sipp/uas-answer.xml) that
#      answers with H.264 + PCMA and sends a test pattern and a 440 Hz tone
#      (test/fixtures/generated/, made by test/fixtures/make-media.ts),
#   3. starts a capture through the REST API and prints the URLs to watch.
# Ctrl-C stops both processes (by PID). Ports: override with the gateway's
# environment variables, e.g. GATEWAY__rest__httpPort=8082 GATEWAY__rtmp__embedded__rtmpPort=1936.
# Logs: $DEMO_DIR (printed at start).
set -euo pipefail
cd "$(dirname "$0")/.."

REST_PORT=${GATEWAY__rest__httpPort:-8081}
SIP_PORT=${GATEWAY__sip__port:-5070}
RTMP_PORT=${GATEWAY__rtmp__embedded__rtmpPort:-1935}
FLV_PORT=${GATEWAY__rtmp__embedded__httpPort:-8000}
FAR_SIP_PORT=${DEMO_FAR_SIP_PORT:-5090}
FAR_MEDIA_PORT=${DEMO_FAR_MEDIA_PORT:-32200}
# Video pcap is 12 s; replay it for about 20 minutes (audio loops for the whole call).
VIDEO_LOOPS=${DEMO_VIDEO_LOOPS:-100}
STREAM=${DEMO_STREAM:-demo}
DEMO_DIR=$(mktemp -d /tmp/gateway-demo.XXXXXX)
REST="http://127.0.0.1:${REST_PORT}/rest-api"

for tool in node sipp ffmpeg curl; do
  command -v "$tool" >/dev/null || { echo "missing $tool: run scripts/install.sh --test" >&2; exit 1; }
done
[ -d node_modules ] || { echo "missing node_modules: run scripts/install.sh" >&2; exit 1; }
for p in "$REST_PORT" "$RTMP_PORT" "$FLV_PORT"; do
  if ss -Htln "sport = :$p" | grep -q .; then echo "TCP port $p is in use (see the header of $0 to change it)" >&2; exit 1; fi
done
for p in "$SIP_PORT" "$FAR_SIP_PORT" "$FAR_MEDIA_PORT"; do
  if ss -Huln "sport = :$p" | grep -q .; then echo "UDP port $p is in use (see the header of $0 to change it)" >&2; exit 1; fi
done

echo "== media fixtures (test pattern + tone)"
node --import tsx test/fixtures/make-media.ts

GW_PID=""
FAR_PID=""
stop() {
  trap - INT TERM EXIT
  echo
  echo "== stopping"
  if [ -n "$GW_PID" ] && kill -0 "$GW_PID" 2>/dev/null; then
    kill -TERM "$GW_PID" 2>/dev/null || true   # the gateway hangs up (BYE) and closes RTMP
    for _ in $(seq 1 100); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$GW_PID" 2>/dev/null || true
  fi
  if [ -n "$FAR_PID" ] && kill -0 "$FAR_PID" 2>/dev/null; then
    kill -TERM "$FAR_PID" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$FAR_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$FAR_PID" 2>/dev/null || true
  fi
  echo "stopped; logs in $DEMO_DIR"
}
trap stop INT TERM EXIT

echo "== gateway (log: $DEMO_DIR/gateway.log)"
# node itself (not npx/npm) so that $GW_PID is the gateway's own PID; compiled JavaScript, as in production.
npm run --silent build
node --enable-source-maps dist/main.js --config scripts/demo.json >"$DEMO_DIR/gateway.log" 2>&1 &
GW_PID=$!

echo "== far end: SIPp UAS on 127.0.0.1:$FAR_SIP_PORT (log: $DEMO_DIR/sipp.log)"
(cd test/fixtures/generated && exec sipp -sf ../sipp/uas-answer.xml -i 127.0.0.1 -mi 127.0.0.1 \
  -p "$FAR_SIP_PORT" -mp "$FAR_MEDIA_PORT" -m 1 -nostdin -aa -set video_loops "$VIDEO_LOOPS" \
  -trace_err -error_file "$DEMO_DIR/sipp-errors.log") >"$DEMO_DIR/sipp.log" 2>&1 &
FAR_PID=$!

for _ in $(seq 1 150); do
  curl -fs "http://127.0.0.1:${REST_PORT}/healthz" >/dev/null 2>&1 && break
  kill -0 "$GW_PID" 2>/dev/null || { echo "the gateway exited:"; tail -20 "$DEMO_DIR/gateway.log"; exit 1; }
  sleep 0.2
done

echo "== capture: POST $REST/call/startup"
curl -fsS -H 'content-type: application/json' "$REST/call/startup" \
  -d "{\"callId\":\"demo-$(date +%s)\",\"callee\":\"sip:demo@127.0.0.1:${FAR_SIP_PORT}\",\"toStream\":\"${STREAM}\",\"visibleName\":\"Demo\"}"
echo

status=""
for _ in $(seq 1 100); do
  status=$(curl -fs -H 'content-type: application/json' "$REST/call/find" -d "{\"toStream\":\"${STREAM}\"}" 2>/dev/null \
    | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{const c=JSON.parse(s)[0];console.log(`${c.status} ${c.rtmpStreamStatus}`)}catch{console.log("")}})') || true
  [ "$status" = "ESTABLISHED RTMP_STREAM_ACTIVE" ] && break
  sleep 0.2
done
echo "call: ${status:-not found (see $DEMO_DIR/gateway.log)}"

cat <<MSG

== watch it
  dashboard   http://127.0.0.1:${REST_PORT}/dashboard/
  RTMP        rtmp://127.0.0.1:${RTMP_PORT}/live/${STREAM}          ffplay rtmp://127.0.0.1:${RTMP_PORT}/live/${STREAM}
  HTTP-FLV    http://127.0.0.1:${FLV_PORT}/live/${STREAM}.flv
  HLS         http://127.0.0.1:${REST_PORT}/hls/${STREAM}/index.m3u8
  REST        curl -H 'content-type: application/json' ${REST}/call/find_all -d '{}'

Ctrl-C stops the gateway (PID $GW_PID) and the far end (PID $FAR_PID).
MSG
wait "$GW_PID"
