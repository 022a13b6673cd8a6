# One image for the API, the retirement worker and the migration runner; pick
# one with the command (see docker-compose.yml):
#   api      node dist/server/start-api.js      (default CMD)
#   worker   node dist/worker/start-worker.js
#   migrate  node dist/server/db/run-migrations.js
#
# Why compile instead of running tsx in the container: tsc (with
# server/tsconfig.build.json) type-checks at build time, so a broken tree fails
# `docker build` rather than a running container; the runtime image then holds
# only production dependencies (no tsx/esbuild/typescript/eslint/vitest) and
# starts faster; and `node` is PID 1 itself, so SIGTERM reaches the app's own
# handlers (the worker finishes in-flight jobs, then exits 0) with no tsx/npm
# wrapper process in between. The code has no decorators or runtime globbing
# (entities are EntitySchema, migrations are listed explicitly), so compiled
# JS behaves the same as under tsx.

# Node 24 (LTS, maintained until April 2028) in every stage: Node 20 reached
# end of life in April 2026. The stages must agree, or
# the runtime would load modules installed by another Node.

# ---- build: all dependencies, compile TypeScript to dist/ -------------------
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY server ./server
COPY worker ./worker
RUN npx tsc -p server/tsconfig.build.json

# ---- prod-deps: production dependencies only --------------------------------
FROM node:24-slim AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
# @trpc/client and @trpc/server declare typescript as a peer dependency (for
# their types only), so npm installs it even with --omit=dev; nothing requires
# it at run time, and it is 24 MB.
RUN npm ci --omit=dev --no-audit --no-fund \
 && rm -rf node_modules/typescript node_modules/.bin/tsc node_modules/.bin/tsserver \
 && npm cache clean --force

# ---- runtime -----------------------------------------------------------------
FROM node:24-slim
ENV NODE_ENV=production \
    NODE_OPTIONS=--enable-source-maps \
    HOST=0.0.0.0 \
    PORT=3000
WORKDIR /app
# Files stay owned by root: the app never writes to its own directory.
# package.json is needed at run time for "type": "module".
COPY package.json package-lock.json ./
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER node
EXPOSE 3000
# For the API: healthy = ready (PostgreSQL, Redis and every migration; /readyz
# answers 503 naming what is missing). In compose, migrate turns it off and the
# worker checks its own /readyz on WORKER_HTTP_PORT.
# Node's built-in fetch, because node:24-slim has no curl or wget.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/server/start-api.js"]
