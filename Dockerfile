# Gateway image for users (not built in this project's CI).
FROM node:20-bookworm-slim AS build
WORKDIR /app
# The capture store's SQLite binding (better-sqlite3) is built from source when no prebuilt binary is at hand.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
RUN SKIP_FFMPEG=true npm ci --no-audit --no-fund
COPY src ./src
RUN npm run build && npm prune --omit=dev

# No ffmpeg: codecs run in-process (libavcodec from the node-av package).
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY config ./config
# Scheduled captures (capture.path) and recordings (recording.dir) live here.
RUN mkdir -p data recordings && chown node:node data recordings
VOLUME ["/app/data", "/app/recordings"]
# REST, SIP (UDP+TCP), embedded RTMP, HTTP-FLV, RTP range.
EXPOSE 8081 5060/udp 5060/tcp 1935 8000 31000-31999/udp
USER node
CMD ["node", "--enable-source-maps", "dist/main.js", "--config", "config/default.json"]
