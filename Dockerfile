# One image for every component; the container command picks the role:
#   botfleet server | botfleet bot | botfleet controller | botfleet dashboard
# (bin/botfleet starts node with the component's V8 flags from ops/node-flags.env)
# Build: docker build -t botfleet:dev .     (make image; make up and make kind-load build it too)

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
    PATH=/app/bin:$PATH \
    BOT_COMMAND="botfleet bot" \
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
COPY --from=build /app/bin/botfleet ./bin/botfleet
COPY --from=build /app/ops/node-flags.env ./ops/node-flags.env
# The dashboard resolves views and static files next to its compiled code (dist/dashboard/).
COPY --from=build /app/dashboard/views ./dist/dashboard/views
COPY --from=build /app/dashboard/public ./dist/dashboard/public
USER 10001:10001
EXPOSE 3001 3002 3003
CMD ["botfleet", "server"]
