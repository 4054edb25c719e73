# cdc-invalidator container image.
#
#   docker build -t cdc-invalidator .
#   docker run --rm -e CDC_INVALIDATOR_BROKERS=kafka:9092 -e CDC_INVALIDATOR_TOPIC_PREFIX=shop -e CDC_INVALIDATOR_REDIS=redis://redis:6379 cdc-invalidator
#   docker run --rm cdc-invalidator mappings validate /app/mappings     # any other subcommand
#
# The entrypoint is the CLI; the default command is `run`. Mount your own mapping files over /app/mappings
# (CDC_INVALIDATOR_MAPPINGS). The health server (/livez, /readyz, /metrics) listens on CDC_INVALIDATOR_HEALTH_PORT, 8080 in this image.
#
# Signals: ENTRYPOINT is in exec form, so node is PID 1 and receives SIGTERM itself; the `run` command installs
# its own SIGTERM/SIGINT handlers and drains (finish the batches in flight, second deletes, commit, leave the
# group, exit 0) within CDC_INVALIDATOR_SHUTDOWN_GRACE (10s by default). Give the container more time than that before it is
# killed: `docker stop -t 30`, compose `stop_grace_period`, Kubernetes `terminationGracePeriodSeconds`.
# The worker starts no child processes, so no init is needed to reap zombies; `docker run --init` (tini) also
# works and forwards the signal unchanged.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: all dependencies, compile TypeScript to dist/ -------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the package's `prepare` script would run tsc before the sources are copied (npm run build
# below compiles them); no dependency needs an install script to build.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.client.json ./
COPY src ./src
COPY test ./test
COPY scripts ./scripts
RUN npm run build

# ---- runtime: production dependencies, the compiled worker, mappings and their schema ------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    CDC_INVALIDATOR_MAPPINGS=/app/mappings \
    CDC_INVALIDATOR_HEALTH_PORT=8080
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist/src ./dist/src
COPY mappings ./mappings
COPY schema ./schema
# Files stay owned by root and read-only to the worker; it writes nothing (logs go to stdout), so the root
# filesystem can be mounted read-only. 1000 is the `node` user of the official image; numeric, so Kubernetes'
# runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 8080
STOPSIGNAL SIGTERM
# No curl in the slim image: node asks /livez. CDC_INVALIDATOR_HEALTH_PORT=0 turns the health server off, and this check with it.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "const p=process.env.CDC_INVALIDATOR_HEALTH_PORT;if(!p||p==='0'){console.error('CDC_INVALIDATOR_HEALTH_PORT is 0: no health server');process.exit(1)}fetch('http://127.0.0.1:'+p+'/livez',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),e=>{console.error(e.message);process.exit(1)})"]
ENTRYPOINT ["node", "dist/src/cli/main.js"]
CMD ["run"]
