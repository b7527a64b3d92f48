# ChatVault API + console for docker-compose.yml (production profile; configuration comes from the
# CHATVAULT_* environment). Build from the repository root: docker build -t chatvault .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY archive ./archive
COPY audit ./audit
COPY api ./api
RUN pip install . \
 && useradd --system --uid 10001 --create-home --home-dir /var/lib/chatvault chatvault

# fixed uid 10001: a keyring mounted from the host must be readable by it (chown 10001 keyring.json)
USER 10001
ENV CHATVAULT_PROFILE=production \
    CHATVAULT_DATA_DIR=/var/lib/chatvault \
    CHATVAULT_BIND_HOST=0.0.0.0 \
    CHATVAULT_BIND_PORT=8000
EXPOSE 8000
CMD ["chatvault", "serve"]
