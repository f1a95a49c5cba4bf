# syntax=docker/dockerfile:1
# One image for all three apps; the command picks the app (default: exchange connector).
#   docker build -t opensqt .
#   docker run opensqt                                              # connector: gRPC 50051, HTTP 9090
#   docker run opensqt node dist/apps/market-maker/src/main.js      # HTTP 8080
#   docker run opensqt node dist/apps/live-server/src/main.js       # HTTP + WS 8081

FROM node:20-bookworm-slim AS build
# python3/make/g++: better-sqlite3 compiles its native addon from source.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# package-lock.json lacks the off-platform optional packages (e.g. @bufbuild/buf-darwin-*), which
# can make `npm ci` call it out of sync (npm/cli#9846); `npm install` keeps the locked versions.
RUN npm ci --no-audit --no-fund || npm install --no-audit --no-fund
COPY . .
# build = buf generate (ts-proto, local plugin) + tsc + tsc-alias → dist/apps/<app>/src/main.js
RUN npm run build && npm prune --omit=dev
# The runtime tree: exactly the list in deploy/runtime-files.json (dist, proto, config, the live
# page, production node_modules). test/deploy/runtime-tree.e2e-spec.ts starts all three apps from
# a tree assembled by the same script, so a file the apps read at run time cannot go missing here.
RUN node scripts/assemble-runtime.js /runtime

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
# A 32 MB young generation: fewer scavenges, so fewer calls wait behind one (measured: connector
# PlaceOrder p99 1.47× → 1.17× raw grpc-js, bench "unary"). Same flag in `npm start`
# (scripts/run-stack.js) and for every process the benchmarks start (bench/lib/proc.ts).
ENV NODE_OPTIONS=--max-semi-space-size=32
WORKDIR /app
# Owned by root and read-only for the app user; only /app/data (SQLite) and /app/state (sim state) are writable.
COPY --from=build /runtime/ ./
RUN mkdir -p /app/data /app/state && chown 1000:1000 /app/data /app/state
# Numeric uid (the image's "node" user) so Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 50051 9090 8080 8081
# SIGTERM: the market maker keeps its dead-man's switch armed for dead_man.shutdown_grace_ms
# (README "Safe shutdown"); give it the time to send the last heartbeat (compose stop_grace_period).
STOPSIGNAL SIGTERM
CMD ["node", "dist/apps/exchange-connector/src/main.js"]
