# facerec in a container, as in the FaceNet tutorial's containerised setup: install the package,
# bake the pretrained models into the image at build time, run the CLI.
#
#   docker build -t facerec .
#   docker run --rm -v "$PWD/data:/data" facerec align /data/lfw /data/aligned -j 4
#   docker run --rm -v "$PWD/data:/data" facerec train /data/aligned --out /data/clf.npz --min-images-per-class 20
#   docker run --rm -v "$PWD/data:/data" facerec classify /data/clf.npz /data/photo.jpg
#
# More models in the image: docker build --build-arg MODELS="sface yunet" -t facerec .
FROM python:3.11-slim

ARG MODELS=""
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    FACEREC_HOME=/opt/facerec/models

# Shared libraries the OpenCV and scikit-learn wheels load at run time.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libglib2.0-0 libgomp1 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/facerec/src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install ".[train,plots]"

# Pull (and SHA-256-verify) the default detector + embedder, plus any MODELS, into the image;
# readable by any user so the container can run as --user "$(id -u):$(id -g)".
RUN facerec models pull --default \
    && if [ -n "$MODELS" ]; then facerec models pull $MODELS; fi \
    && chmod -R a+rX "$FACEREC_HOME"

# At run time, never reach for the network: a model that is not in the image is a clear error.
ENV FACEREC_OFFLINE=1
WORKDIR /data
ENTRYPOINT ["facerec"]
CMD ["--help"]
