# Image of the monitor, retrainer and setup services of docker-compose.yml.
#
#   docker build -t driftline .                              # CPU-only torch (the default)
#   docker build --build-arg TORCH=cuda -t driftline:cuda .  # CUDA torch from PyPI (~5 GB more)
#
# Dependencies come from requirements.lock; with TORCH=cpu, torch comes from PyTorch's CPU wheel
# index at the lock's version and the CUDA libraries it would pull in are left out. The
# processes run as the unprivileged user `driftline` (uid 10001) with their state in
# /var/lib/driftline.
FROM python:3.11-slim

ARG TORCH=cpu
ARG UV_VERSION=0.13.9
ARG TORCH_CPU_INDEX=https://download.pytorch.org/whl/cpu

WORKDIR /opt/driftline
COPY requirements.lock pyproject.toml README.md ./
RUN set -eu; \
    pip install --no-cache-dir "uv==${UV_VERSION}"; \
    case "${TORCH}" in \
      cpu) \
        grep -v -E '^(torch|triton|nvidia-|cuda-)' requirements.lock > /tmp/requirements-cpu.lock; \
        uv pip install --system --no-cache -r /tmp/requirements-cpu.lock; \
        uv pip install --system --no-cache --no-deps --index-url "${TORCH_CPU_INDEX}" \
          "torch==$(sed -n 's/^torch==//p' requirements.lock)"; \
        rm /tmp/requirements-cpu.lock ;; \
      cuda) uv pip sync --system --no-cache requirements.lock ;; \
      *) echo "TORCH must be cpu or cuda, not ${TORCH}" >&2; exit 1 ;; \
    esac

COPY driftline ./driftline
COPY streams ./streams
COPY retrainer ./retrainer
COPY featurestore ./featurestore
COPY models ./models
COPY simulator ./simulator
COPY bench ./bench
COPY examples ./examples
RUN uv pip install --system --no-cache --no-deps . \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/driftline --create-home \
       --shell /usr/sbin/nologin driftline \
    && install -d -o driftline -g driftline /var/lib/driftline/artifacts /var/lib/driftline/run

USER driftline
WORKDIR /var/lib/driftline
ENTRYPOINT []
CMD ["driftline", "--help"]
