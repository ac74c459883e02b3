# unisd container image: the compiled build on Node.js 20, run as the unprivileged `node` user,
# state (SQLite database, signing key) in the /data volume. Build: docker build -t unisd .
# The steps are the README's production steps: npm ci, npm run build, npm ci --omit=dev, node dist/….

# Build stage: dev dependencies (the TypeScript compiler) and the sources, compiled to dist/.
FROM node:20-bookworm AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY core ./core
COPY plugins ./plugins
COPY workers ./workers
RUN npm run build

# Runtime dependencies only. The full image has the compilers a native module falls back to
# when no prebuilt binary fits (better-sqlite3); the slim image below shares its glibc.
FROM node:20-bookworm AS runtime-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    UNISD_SERVER_HOST=0.0.0.0 \
    UNISD_SERVER_PORT=8090 \
    UNISD_STORAGE_SQLITE_PATH=/data/unisd.db \
    UNISD_KEYS_PATH=/data/signing.key
WORKDIR /app
COPY --from=runtime-deps /app/node_modules ./node_modules
COPY package.json ./
# The built-in mail templates (config/templates) are read from here.
COPY config ./config
COPY --from=build /src/dist ./dist
RUN mkdir /data && chown node:node /data
USER node
VOLUME /data
EXPOSE 8090
# Plain HTTP on the container's own port (with server.tls.* set, check from your orchestrator instead).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.UNISD_SERVER_PORT}/_unisd/health`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "dist/core/cli.js"]
CMD ["start"]
