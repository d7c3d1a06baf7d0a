# Tapewatch service image (used by docker-compose.yml).
FROM python:3.11-slim
WORKDIR /app
ENV PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1
COPY pyproject.toml README.md ./
COPY tapewatch ./tapewatch
COPY ingest ./ingest
COPY classify ./classify
COPY alerts ./alerts
COPY storage ./storage
COPY models ./models
RUN pip install .
ENV TAPEWATCH_MODEL_DIR=/app/models/tapewatch-minilm
ENTRYPOINT ["tapewatch"]
