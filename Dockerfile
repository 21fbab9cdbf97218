# The certyard image: both the CA (certyard-ca) and the agent (certyard-agent).
# Build: docker build -t certyard .
FROM node:20-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY services ./services
COPY shared ./shared
COPY migrations ./migrations
COPY test ./test
COPY bench ./bench
RUN npm ci --no-audit --no-fund && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/migrations ./migrations
RUN ln -s /app/dist/services/ca/main.js /usr/local/bin/certyard-ca \
 && ln -s /app/dist/services/agent/main.js /usr/local/bin/certyard-agent
ENV CERTYARD_DATA=/data CERTYARD_AGENT_HOME=/var/lib/certyard-agent
VOLUME ["/data", "/var/lib/certyard-agent"]
EXPOSE 8443
CMD ["certyard-ca", "serve"]
