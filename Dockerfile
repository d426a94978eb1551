# syntax=docker/dockerfile:1
# One image for every component; the container command picks the role:
#   node dist/server/main.js | node dist/bot/main.js | node dist/controller/main.js | node dist/dashboard/main.js
# (server and bot with the V8 heap flags of server/node-flags.ts and bot/node-flags.ts)
# Build: docker build -t botfleet:dev .     (make kind-load, make up)

ARG NODE_IMAGE=node:20-bookworm-slim

# ---------------------------------------------------------------- build: compile TypeScript and CSS
FROM ${NODE_IMAGE} AS build
# better-sqlite3 compiles from source when no prebuilt binary matches: node-gyp needs these.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# Dependencies first, so editing source does not re-run the slow native build.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# tsc -p tsconfig.build.json (-> dist/) and the Tailwind stylesheet (-> dashboard/public/app.css)
RUN npm run build
# Keep only what runs in production (tsx stays: it is a runtime dependency).
RUN npm prune --omit=dev --no-audit --no-fund

# ---------------------------------------------------------------- runtime: slim, non-root, read-only friendly
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    NODE_OPTIONS=--enable-source-maps \
    LOG_PRETTY=false \
    DATABASE_URL=sqlite:///data/jobs.db \
    DATALAKE_DIR=/data/datalake \
    CONTROLLER_STATE_FILE=/data/controller-state.json \
    BOT_COMMAND="node --max-semi-space-size=2 --max-old-space-size=256 --single-threaded-gc dist/bot/main.js" \
    BOT_CWD=/app
# uid/gid 10001: above any system account of the base image, as the restricted policy expects.
# /data is the only place the app writes (database, datalake, controller state); the root file
# system can be mounted read-only.
RUN groupadd --system --gid 10001 botfleet \
 && useradd --system --uid 10001 --gid botfleet --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin botfleet \
 && mkdir -p /data \
 && chown botfleet:botfleet /data
WORKDIR /app
# Owned by root and not writable by the app user: the code cannot be changed at run time.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The dashboard resolves views and static files next to its compiled code (dist/dashboard/).
COPY --from=build /app/dashboard/views ./dist/dashboard/views
COPY --from=build /app/dashboard/public ./dist/dashboard/public
USER 10001:10001
EXPOSE 3001 3002 3003
CMD ["node", "--max-semi-space-size=8", "--max-old-space-size=384", "dist/server/main.js"]
