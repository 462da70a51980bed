# syntax=docker/dockerfile:1
# Herald: a self-hosted news publisher. Build: docker build -t herald .
# Run:   docker run -p 8080:8080 -e PUBLIC_URL=https://news.example \
#          -v ./articles:/app/articles -v herald-keys:/app/keys -v herald-data:/app/data herald

# Stage 1: type-check the sources with the full toolchain, so a broken build never ships.
FROM node:24-bookworm-slim AS check
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json ./
COPY src ./src
RUN npx tsc --noEmit -p tsconfig.json

# Stage 2: the runtime, with production dependencies only.
FROM node:24-bookworm-slim
# V8 defers full garbage collections while a heap limit is far away: under steady load the
# process would grow for minutes with a live heap of ~65 MB (docs/BENCHMARKS.md, "Load").
# A limit makes it collect as it goes (under 400 MB resident in that benchmark); override
# with -e NODE_OPTIONS=… if you need more. The semi-space size is the one `npm start` sets: it
# keeps the young generation from growing to 128 MB during a large scan ("Scan" there), and
# small enough that a fan-out to 10,000 servers stays under 300 MB ("Fan-out" there).
# MALLOC_ARENA_MAX, as `npm start` sets it: glibc gives each thread that allocates (the
# signatures of a fan-out run in four) an arena of its own, which holds on to its pages; two
# arenas took 20–40 MB off the peak of a fan-out ("Fan-out" there).
ENV NODE_ENV=production \
    NODE_OPTIONS="--max-old-space-size=256 --max-semi-space-size=8" \
    MALLOC_ARENA_MAX=2 \
    PORT=8080 \
    ARTICLES_DIR=/app/articles \
    KEYS_DIR=/app/keys \
    DATA_DIR=/app/data
WORKDIR /app
COPY package.json package-lock.json ./
# The image brings Node 24 itself: the `node` package (the runtime that `npm install` brings to
# machines with an older Node) is skipped with the install scripts, and removed.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && rm -rf node_modules/node node_modules/.bin/node \
 && npm cache clean --force
COPY --from=check /app/src ./src
# Articles, keys and state live in volumes, never in the image.
RUN mkdir -p articles keys data && chown node:node articles keys data
VOLUME ["/app/articles", "/app/keys", "/app/data"]
USER node
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
CMD ["node", "src/main.ts"]
