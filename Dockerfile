FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md requirements.lock* ./
COPY archive ./archive
COPY audit ./audit
COPY api ./api
COPY examples ./examples
RUN pip install --no-cache-dir . && useradd --system chatvault
USER chatvault
EXPOSE 8000
CMD ["chatvault", "serve"]
