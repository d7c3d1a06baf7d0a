# Tapewatch service image (used by docker-compose.yml).

# The web dashboard's front-end libraries, pinned by package-lock.json, installed at build
# time so the running dashboard never fetches anything from another origin.
FROM node:20-slim AS assets
WORKDIR /assets
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund

FROM python:3.11-slim
WORKDIR /app
ENV PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1
COPY pyproject.toml README.md ./
COPY tapewatch ./tapewatch
COPY ingest ./ingest
COPY classify ./classify
COPY alerts ./alerts
COPY storage ./storage
COPY entities ./entities
COPY web ./web
COPY models ./models
RUN pip install .
COPY --from=assets /assets/node_modules ./node_modules
ENV TAPEWATCH_MODEL_DIR=/app/models/tapewatch-minilm TAPEWATCH_WEB__ASSETS_DIR=/app/node_modules
ENTRYPOINT ["tapewatch"]
