# Image for the monitor and retrainer services of docker-compose.yml.
FROM python:3.11-slim
WORKDIR /opt/driftline
COPY requirements.lock pyproject.toml README.md ./
RUN pip install --no-cache-dir "uv==0.13.9" && uv pip sync --system requirements.lock
COPY driftline ./driftline
COPY streams ./streams
COPY retrainer ./retrainer
COPY featurestore ./featurestore
COPY models ./models
COPY bench ./bench
RUN uv pip install --system --no-deps .
WORKDIR /var/lib/driftline
ENTRYPOINT []
