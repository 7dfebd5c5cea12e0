# One image, every role: `docker run IMAGE` serves the API; `docker run IMAGE worker --queue=events
# --concurrency=2` runs a worker; `fraiday scheduler` and the operations commands are there too.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/fraiday
COPY pyproject.toml README.md ./
COPY config ./config
COPY handlers ./handlers
COPY fraiday_cli ./fraiday_cli
# A regular (not editable) install: the runtime stage gets the venv and nothing of the source tree.
# Behind a proxy that re-signs TLS, hand pip a CA bundle that trusts it (used for this step only,
# never stored in a layer): `docker build --secret id=ca-bundle,src=/etc/ssl/certs/ca-certificates.crt .`
# Then the venv sheds what only installing needed (pip, setuptools) and the tests some packages ship
# (gevent's test-suite support package, gevent.testing, among them: nothing imports it at run time).
RUN --mount=type=secret,id=ca-bundle \
    if [ -s /run/secrets/ca-bundle ]; then export PIP_CERT=/run/secrets/ca-bundle; fi \
    && /opt/fraiday/bin/pip install --no-compile . \
    && /opt/fraiday/bin/pip uninstall --yes --quiet pip setuptools \
    && find /opt/fraiday/lib -depth -type d \( -name tests -o -name test -o -path '*/gevent/testing' \) \
       -exec rm -rf {} + \
    && /opt/fraiday/bin/python -m compileall -q /opt/fraiday/lib

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="fraiday" \
      org.opencontainers.image.description="Fraiday API service and task workers"
# Writes go to /tmp only (an emptyDir in Kubernetes): metrics files and gunicorn's heartbeat files.
ENV PATH=/opt/fraiday/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/fraiday-metrics
RUN groupadd --system --gid 10001 fraiday \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin fraiday
COPY --from=build /opt/fraiday /opt/fraiday
USER 10001:10001
WORKDIR /tmp
EXPOSE 8080 9100
ENTRYPOINT ["fraiday"]
CMD ["server"]
