# kefu container image (used by deploy/compose.yaml).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 KEFU_DATA_DIR=/var/lib/kefu
# Fonts the PDF exports embed (kefu.privacy.pdf); installed from Debian, never fetched at run time.
RUN apt-get update && apt-get install -y --no-install-recommends fonts-wqy-microhei fonts-hanazono fonts-symbola \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --system --home /var/lib/kefu kefu && mkdir -p /var/lib/kefu && chown kefu /var/lib/kefu
WORKDIR /opt/kefu
# Dependencies from the hash-checked lock first (a cached layer while only the source changes), then kefu itself.
COPY pyproject.toml README.md requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
COPY src ./src
RUN pip install --no-cache-dir --no-deps .
USER kefu
EXPOSE 8000
CMD ["kefu", "serve", "--host", "0.0.0.0", "--port", "8000"]
