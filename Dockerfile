# The monitor's image: `docker compose build ccm` (docker-compose.yml passes NODE_IMAGE from the
# pinned scripts/versions.env value). Two stages: compile TypeScript with the dev dependencies,
# then run the compiled CLI (bin/ccm.js prefers dist/) with production dependencies only.
ARG NODE_IMAGE=node:20-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY config ./config
USER node
EXPOSE 9464
ENTRYPOINT ["node", "bin/ccm.js"]
CMD ["run"]
