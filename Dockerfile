# panorama-gate's own container image.
#
#   docker build -t panorama-gate .
#   docker run --rm -v "$PWD:/work:ro" panorama-gate scan /work/app --no-profile
#
# Two stages: `build` turns the source into a wheel and installs it (with its dependencies)
# under /install; `runtime` is a fresh copy of the base with only /install added, so no source
# tree, compiler, wheel or pip cache reaches the image. It runs as an unprivileged user with
# `panorama-gate` as the entry point.
#
# The base image is a build argument. Pin it by digest in production, e.g.
#   --build-arg PYTHON_IMAGE=python:3.11-slim@sha256:<digest>
# and point it at a mirror or a locally built image where no registry is reachable.
#
# Offline / hermetic builds (docker build --network none): put every wheel the install needs
# in wheelhouse/ first and pass --build-arg PIP_NO_INDEX=1, e.g.
#   pip wheel . "setuptools>=70.1" -w wheelhouse
#   docker build --network none --build-arg PIP_NO_INDEX=1 -t panorama-gate .
# pip then installs only from wheelhouse/ (PIP_FIND_LINKS), never from an index. With network
# access, wheelhouse/ may stay empty and pip uses PyPI.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ARG PIP_NO_INDEX=0
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INDEX=${PIP_NO_INDEX} \
    PIP_FIND_LINKS=/wheelhouse \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY wheelhouse/ /wheelhouse/
# setuptools >= 70.1 builds wheels itself; installing it here (not in an isolated build env)
# lets an offline build take it from the wheelhouse like everything else.
RUN python -m pip install --no-cache-dir "setuptools>=70.1"
COPY pyproject.toml README.md ./
COPY scanner/ scanner/
COPY signing/ signing/
RUN python -m pip wheel --no-cache-dir --no-deps --no-build-isolation --wheel-dir /dist . \
    && python -m pip install --no-cache-dir --prefix=/install /dist/panorama_gate-*.whl

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="panorama-gate" \
      org.opencontainers.image.description="Supply-chain security gate for AWS Panorama applications" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/home/gate \
    XDG_CACHE_HOME=/home/gate/.cache
COPY --from=build /install /usr/local
# A fixed numeric UID/GID (Kubernetes runAsNonRoot can check it); written with shell builtins
# so any base with a POSIX shell works, with or without useradd.
RUN echo "gate:x:10001:10001:panorama-gate:/home/gate:/usr/sbin/nologin" >> /etc/passwd \
    && echo "gate:x:10001:" >> /etc/group \
    && mkdir -p /home/gate/.cache /work \
    && chown -R 10001:10001 /home/gate /work
USER 10001:10001
WORKDIR /work
ENTRYPOINT ["panorama-gate"]
CMD ["--help"]
