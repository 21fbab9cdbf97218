# The certyard image: both the CA (certyard-ca, the default command) and the agent (certyard-agent).
# Build: docker build -t certyard .
# It holds the programs and their production dependencies only: no tests, no bench, no compiler.
FROM node:24-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
# --ignore-scripts skips `prepare`, which compiles the tests too; better-sqlite3 is then built
# on its own (the full node image has its compilers).
RUN npm ci --no-audit --no-fund --ignore-scripts && npm rebuild better-sqlite3
COPY services ./services
COPY shared ./shared
COPY scripts/bundle-drizzle.ts ./scripts/
# drizzle bundled into one file after tsc, as npm run build does (scripts/bundle-drizzle.ts)
RUN npx tsc -p tsconfig.build.json \
 && node scripts/bundle-drizzle.ts \
 && chmod 755 dist/services/ca/main.js dist/services/agent/main.js \
 && npm prune --omit=dev

FROM node:24-bookworm-slim
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY migrations ./migrations
COPY openssl ./openssl
RUN ln -s /app/dist/services/ca/main.js /usr/local/bin/certyard-ca \
 && ln -s /app/dist/services/agent/main.js /usr/local/bin/certyard-agent \
 && mkdir -p /data /var/lib/certyard-agent \
 && chown node:node /data /var/lib/certyard-agent \
 && chmod 700 /data /var/lib/certyard-agent
ENV NODE_ENV=production CERTYARD_DATA=/data CERTYARD_AGENT_HOME=/var/lib/certyard-agent
# The image's own unprivileged user. The agent, which restarts containers through the Docker
# socket and writes the registry's files, is run as root where it needs to be (compose.yaml).
USER node
VOLUME ["/data", "/var/lib/certyard-agent"]
EXPOSE 8443
# Liveness of the local CA process: /healthz answers 200 once the database and keys are usable.
# It checks the process, not trust, so it does not verify the serving certificate.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["node", "-e", "const p=(process.env.CERTYARD_LISTEN||'0.0.0.0:8443').split(':').pop();require('node:https').get({host:'127.0.0.1',port:p,path:'/healthz',rejectUnauthorized:false,timeout:4000},r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1))"]
CMD ["certyard-ca", "serve"]
