# syntax=docker/dockerfile:1
# CSV Analyzer image: a builder stage installs the app and its dependencies into
# a virtual environment; the runtime stage copies only that venv and the source
# it runs from (wsgi.py, config.py, app/, migrations/), and runs as a non-root user.

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Dependencies first, read from pyproject.toml, so that a code change does not
# reinstall them (this layer is cached until pyproject.toml changes).
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt
# Then the project itself (gives the installed version to the app_info metric).
COPY app/ app/
RUN pip install --no-deps .

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="csv-analyzer" \
      org.opencontainers.image.description="From a CSV file to a trained, explained, monitored model."
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    OMP_NUM_THREADS=1 \
    APP_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    INSTANCE_DIR=/data/instance
# A fixed uid/gid so volume ownership is predictable across rebuilds and hosts.
# A writable home for library caches (MLflow, matplotlib, gunicorn's control
# socket). /data/instance and /data/mlflow-artifacts (the artifact store of the
# MLflow server that docker-compose.yml runs from this image) are created here,
# owned by the app user, so a named volume mounted on them starts with the right
# owner.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --create-home --home-dir /home/app \
       --shell /usr/sbin/nologin app \
    && mkdir -p /data/instance /data/mlflow-artifacts \
    && chown app:app /data/instance /data/mlflow-artifacts
COPY --from=builder /opt/venv /opt/venv
WORKDIR /srv/app
# Source stays root-owned and read-only for the app user.
COPY config.py wsgi.py pyproject.toml README.md ./
COPY migrations/ migrations/
COPY app/ app/
COPY ops/docker/entrypoint.sh /usr/local/bin/entrypoint.sh
COPY ops/docker/healthcheck.py /usr/local/bin/healthcheck.py
# Numeric, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
EXPOSE 8000
# The slim image has no curl: the probe is a few lines of standard-library Python.
HEALTHCHECK --interval=30s --timeout=5s --start-period=40s --retries=3 \
    CMD ["python", "/usr/local/bin/healthcheck.py"]
ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]
CMD ["gunicorn", "-c", "app/gunicorn_conf.py", "wsgi:app"]
