# HubLedger validator node.
#
# With no registry (air-gapped): scripts/image/build-base.sh && scripts/image/build-node.sh
#   builds FROM hubledger/base:bookworm and installs only from build/wheelhouse.
# With a registry: docker build .  (or docker compose up --build)
#   builds FROM python:3.11-slim and installs the dependencies from PyPI.
#
# Keys, genesis and the node config are mounted at run time, never baked in:
#   /etc/hubledger/node.toml, /etc/hubledger/genesis.json, /etc/hubledger/keys/<hub>.pem
ARG BASE_IMAGE=python:3.11-slim

# ---- build stage: wheelhouse, pip and the build backend stay here ----
FROM ${BASE_IMAGE} AS build
LABEL org.hubledger.image=node-build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1

# The bracket makes the wheelhouse optional: with none, the glob matches nothing and pip uses PyPI.
COPY setup.cfg pyproject.toml scripts/image/requirements.py build/wheelhous[e] /tmp/wheelhouse/
# /opt/tools holds pip and the build backend; /opt/hubledger gets the runtime dependencies only.
RUN set -eu; \
    cd /tmp/wheelhouse; \
    if ls ./*.whl >/dev/null 2>&1; then index="--no-index --find-links /tmp/wheelhouse"; else index=""; fi; \
    python3 -m venv /opt/tools; \
    python3 -m venv --without-pip /opt/hubledger; \
    python3 requirements.py setup.cfg pyproject.toml build > build.txt; \
    python3 requirements.py setup.cfg pyproject.toml runtime > runtime.txt; \
    /opt/tools/bin/pip install $index -r build.txt; \
    /opt/tools/bin/pip --python /opt/hubledger/bin/python install $index -r runtime.txt

COPY README.md setup.cfg pyproject.toml /tmp/src/
COPY ledger /tmp/src/ledger
COPY storage /tmp/src/storage
COPY contracts /tmp/src/contracts
COPY consensus /tmp/src/consensus
COPY p2p /tmp/src/p2p
COPY node /tmp/src/node
COPY hubledger_client /tmp/src/hubledger_client
COPY hubledger_tools /tmp/src/hubledger_tools
COPY scripts /tmp/src/scripts
# The project's own files are staged under /staging, so the image takes them as a layer of their own.
RUN set -eu; \
    /opt/tools/bin/pip wheel --no-deps --no-index --no-build-isolation --wheel-dir /tmp/dist /tmp/src; \
    /opt/tools/bin/pip --python /opt/hubledger/bin/python install --no-deps --no-index \
        --root /staging /tmp/dist/hubledger-*.whl

# ---- the node image ----
FROM ${BASE_IMAGE}
LABEL org.hubledger.image=node
ENV VIRTUAL_ENV=/opt/hubledger \
    PATH=/opt/hubledger/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

# A fixed uid and gid, so that operators can hand it the validator key: chown 10001 keys/<hub>.pem
RUN groupadd --system --gid 10001 hubledger \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/hubledger --no-create-home \
        --shell /usr/sbin/nologin hubledger \
    && mkdir -p /etc/hubledger/keys /var/lib/hubledger \
    && chown hubledger:hubledger /var/lib/hubledger

# Dependencies and code in separate layers: a code change leaves the dependency layer cached.
COPY --from=build /opt/hubledger /opt/hubledger
COPY --from=build /staging/ /

# The LevelDB database lives in the volume, whatever data_dir the config file names.
ENV HUBLEDGER_NODE_DATA_DIR=/var/lib/hubledger
VOLUME ["/var/lib/hubledger"]
WORKDIR /var/lib/hubledger
USER hubledger
EXPOSE 8000 9000

HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python3", "-c", "import os, ssl, urllib.request; port = os.environ.get('HUBLEDGER_API_PORT', '8000'); ca = ssl.create_default_context(cafile='/etc/hubledger/tls/ca.crt'); urllib.request.urlopen(f'https://127.0.0.1:{port}/healthz', timeout=2, context=ca)"]

ENTRYPOINT ["hubledger", "node"]
CMD ["--config", "/etc/hubledger/node.toml"]
