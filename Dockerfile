# Gateway image for users (not built in this project's CI).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
RUN SKIP_FFMPEG=true npm ci --no-audit --no-fund
COPY src ./src
RUN npm run build

# No ffmpeg: codecs run in-process (libavcodec from the node-av package).
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN SKIP_FFMPEG=true npm ci --omit=dev --no-audit --no-fund
COPY --from=build /app/dist ./dist
COPY config ./config
# REST, SIP (UDP+TCP), embedded RTMP, HTTP-FLV, RTP range.
EXPOSE 8081 5060/udp 5060/tcp 1935 8000 31000-31999/udp
USER node
CMD ["node", "--enable-source-maps", "dist/main.js", "--config", "config/default.json"]
