# xai-cli in a container: `docker build -t xai-cli .` then, with your files in the current folder,
#   docker run --rm -v "$PWD:/work" xai-cli explain model.joblib data.csv --target label
#   docker run --rm -v "$PWD:/work" xai-cli audit configs/audit.yaml
# The TreeSHAP kernels are compiled into the image (xai warmup), so no container waits for numba.
FROM python:3.11-slim

# XGBoost and LightGBM load OpenMP at import
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 \
 && rm -rf /var/lib/apt/lists/*

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    NUMBA_CACHE_DIR=/opt/xai/numba-cache \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /opt/xai/src
COPY pyproject.toml README.md LICENSE CHANGELOG.md ./
COPY xai_cli ./xai_cli
# numba needs its cache folder writable to use it, whatever user the container runs as
RUN pip install . \
 && xai warmup \
 && chmod -R a+rwX /opt/xai/numba-cache \
 && rm -rf /opt/xai/src

WORKDIR /work
ENTRYPOINT ["xai"]
CMD ["--help"]
