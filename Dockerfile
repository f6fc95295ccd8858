# syntax=docker/dockerfile:1
# Sijill application image: web, worker, beat and migrations all run from it (see docker-compose.yml).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SIJILL_DATA_DIR=/var/lib/sijill

# OCR (Arabic + English), fonts that render Arabic in generated PDFs, PDF tools, and the Pango/HarfBuzz
# libraries WeasyPrint loads at run time.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      tesseract-ocr tesseract-ocr-ara tesseract-ocr-eng tesseract-ocr-script-arab \
      fonts-noto-core fonts-hosny-amiri fontconfig \
      poppler-utils \
      libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 shared-mime-info \
 && rm -rf /var/lib/apt/lists/*

# A fixed, unprivileged user; the data directory is created here so that a named volume mounted on it
# starts out owned by that user.
RUN groupadd --system --gid 10001 sijill \
 && useradd --system --uid 10001 --gid sijill --home-dir /var/lib/sijill --no-create-home \
      --shell /usr/sbin/nologin sijill \
 && install -d -o sijill -g sijill -m 0750 /var/lib/sijill

COPY . /tmp/sijill-src
RUN pip install /tmp/sijill-src && rm -rf /tmp/sijill-src

USER sijill
WORKDIR /var/lib/sijill
EXPOSE 5000

# No HEALTHCHECK here: worker and beat serve no HTTP; docker-compose.yml checks /healthz on web only.
ENTRYPOINT ["sijill"]
CMD ["run", "--host", "0.0.0.0", "--port", "5000", "--no-worker"]
