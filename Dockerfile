# Cauri: one image for every role. docker-compose.yml runs it as `cauri serve`, `cauri worker`,
# `cauri scheduler` and `cauri db upgrade`, exactly as on a bare machine (docs/operations.md).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 cauri \
    && useradd --system --uid 10001 --gid cauri --home-dir /app --shell /usr/sbin/nologin cauri

WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY migrations ./migrations
COPY src ./src
# Installed in place (editable), so `cauri db upgrade` finds alembic.ini and migrations/ next to the sources.
RUN pip install --editable . \
    && mkdir -p /app/var/files \
    && chown -R cauri:cauri /app/var

USER cauri
ENV CAURI_FILES_DIR=/app/var/files
EXPOSE 8000
CMD ["cauri", "serve", "--host", "0.0.0.0"]
