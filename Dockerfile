# facerec as a service: the REST API and web page over a durable gallery, models baked in.
#
#   docker build -t facerec .
#   docker run --rm -p 8000:8000 -e FACEREC_API_KEYS=change-me -v facerec-data:/data facerec
#   # or: docker compose up   (compose.yaml: the same, with a named volume for the gallery)
#
# The CLI is in the image too:
#   docker run --rm -v "$PWD/photos:/photos" facerec verify /photos/a.jpg /photos/b.jpg
#
# More models in the image: docker build --build-arg MODELS="yunet facenet128" -t facerec .
# Dependencies come from the lock (requirements/image.txt: the service and gallery extras, every
# version and hash pinned; bash tools/lock.sh refreshes it).
FROM python:3.11-slim

ARG MODELS=""
ARG EXTRAS="service,gallery"  # what requirements/image.txt locks
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    FACEREC_HOME=/opt/facerec/models

# Shared libraries the OpenCV, FAISS and scikit-learn wheels load at run time.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libglib2.0-0 libgomp1 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/facerec/src
COPY pyproject.toml README.md LICENSE ./
COPY requirements/image.txt ./requirements/
RUN pip install -r requirements/image.txt
COPY src ./src
RUN pip install --no-deps .

# Pull the default detector + embedder (each file checked against its pinned SHA-256), plus any
# MODELS; readable by any user. A later offline listing proves they are all present.
RUN facerec models pull --default \
    && if [ -n "$MODELS" ]; then facerec models pull $MODELS; fi \
    && chmod -R a+rX "$FACEREC_HOME" \
    && FACEREC_OFFLINE=1 facerec models pull --default

# Run as an unprivileged user; the gallery lives on the /data volume.
RUN useradd --create-home --uid 10001 facerec && mkdir -p /data && chown facerec:facerec /data
USER facerec
WORKDIR /data
VOLUME ["/data"]

# At run time, never reach for the network: a model that is not in the image is a clear error.
# Serving on 0.0.0.0 needs an API key (FACEREC_API_KEYS): without one the service refuses to start.
ENV FACEREC_OFFLINE=1 \
    FACEREC_DB=/data/gallery.db
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)" || exit 1
ENTRYPOINT ["facerec"]
CMD ["serve", "--db", "/data/gallery.db", "--host", "0.0.0.0", "--port", "8000"]
