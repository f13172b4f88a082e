# Strata server image: `strata serve` on /data, port 7070, bearer tokens from a secret.
#
#   docker build -t strata .
#   docker run -p 7070:7070 -v strata-data:/data \
#     -v "$PWD/tokens.json:/run/secrets/strata-tokens.json:ro" strata
#
# The tokens file is required: the server listens on 0.0.0.0 inside the container, and it
# refuses any non-loopback address without tokens (API.md, Auth). Format:
#   [ {"token": "<16+ characters>", "role": "admin"} ]
#
# Two stages: the build stage has the toolchain (zstd-napi compiles from source: python3, make,
# g++ are in node:20-bookworm), compiles TypeScript and prunes dev dependencies; the runtime
# stage (bookworm-slim, same glibc and Node major, so the native addon loads) copies only
# dist/, the pruned node_modules, package.json and openapi.yaml, and runs as the `node` user.
ARG NODE_IMAGE=node:20-bookworm

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM ${NODE_IMAGE}-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json openapi.yaml ./
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME /data
EXPOSE 7070
# No curl in the slim image: Node's own fetch asks /healthz.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:7070/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM (docker stop) shuts down gracefully: in-flight requests finish (25 s at most), then
# every tree is closed. `docker stop` waits 10 s by default: `docker stop -t 30` gives it room.
# A SIGKILL loses nothing acknowledged (sync always), it only skips the clean close.
STOPSIGNAL SIGTERM
CMD ["node", "dist/cli/main.js", "serve", "--data", "/data", "--host", "0.0.0.0", "--port", "7070", "--tokens", "/run/secrets/strata-tokens.json"]
