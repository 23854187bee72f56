# syntax=docker/dockerfile:1
# citizen-verify production image: one `verify serve` process per container.
#
#   docker build -t citizen-verify:0.1.0 .
#   docker run --rm -p 8080:8080 --env-file verify.env citizen-verify:0.1.0
#
# Kubernetes manifests: deploy/k8s/ (probes there, so no HEALTHCHECK here).
ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------- build
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
WORKDIR /src
# the runtime dependencies, pinned with their hashes (make lock): pip refuses any file
# whose hash differs. No dev/loadtest extras: the embedded PostgreSQL and Redis wheels
# of `verify dev` are dev-only and stay out of the image.
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock
# then the project itself, without dependencies (README.md is its readme in pyproject.toml)
COPY pyproject.toml README.md ./
COPY verify ./verify
COPY cache ./cache
# arq (the job queue of `verify worker`) caps redis-py below 6 out of caution; the project
# runs redis-py 8, which the worker's tests exercise: arq goes in hashed and without its
# pins, and pip check accepts that one declared conflict only.
COPY requirements-arq.lock ./
RUN pip install --no-deps . && pip install --no-deps --require-hashes -r requirements-arq.lock \
    && pip check | grep -v -e '^arq 0.28.0 has requirement redis' -e '^No broken requirements' \
       | { ! grep -q .; }
# verify/domain compiled with mypyc (verify/native_build.py) into /opt/venv/share/citizen-verify/
# native/<hash of the domain's sources>, which the runtime stage copies with the venv: gcc and
# mypy (pinned, hashed: requirements-build.lock) only in this stage, mypy in a venv of its own.
# The image then runs the compiled domain (`verify serve` prints "verify/domain: compiled" and
# verify_domain_compiled is 1); VERIFY_PURE_PYTHON=1 in its environment runs the .py files.
COPY requirements-build.lock ./
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends gcc libc6-dev \
    && python -m venv /opt/build && /opt/build/bin/pip install --require-hashes -r requirements-build.lock \
    && tools=$(/opt/build/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') \
    && cd / && PYTHONPATH="$tools" python -m verify.native_build \
    && python -c "from verify import native; assert native.mode().compiled, native.mode().line()"

# -------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    VERIFY_HOST=0.0.0.0 \
    VERIFY_PORT=8080 \
    VERIFY_WORKERS=1
RUN groupadd --system --gid 10001 verify \
 && useradd --system --uid 10001 --gid verify --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin verify
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# numeric so that Kubernetes' runAsNonRoot can verify it
USER 10001:10001
EXPOSE 8080
# exec form: `verify` is PID 1 and gets SIGTERM itself (aiohttp handles it: stop
# accepting, wait for in-flight requests up to 10 s, flush the audit queue, close pools)
ENTRYPOINT ["verify"]
# one process per container (VERIFY_WORKERS=1 above): no prometheus multiprocess
# directory; scale with replicas instead
CMD ["serve", "--host", "0.0.0.0"]
