# podguard's production image.
#   docker build -t podguard:0.1.0 --build-arg VERSION=0.1.0 --build-arg REVISION=$(git rev-parse HEAD) .
# Two stages: the build stage has the compilers and -dev packages; the
# runtime stage has only the shared libraries podguard links, no shell
# tools beyond Debian's base, runs as the numeric non-root UID 1001, writes
# nothing to its filesystem (run it with --read-only) and logs to stdout.
# No `# syntax=` line: BuildKit's built-in frontend reads this file, so a
# build needs no image but the base (docs/ci.md: building offline).
#
# Layer order is for the cache: in each stage the apt-get layer comes before
# anything that changes with the sources or the release, so a source-only
# rebuild reuses both dependency layers and only compiles (the ARGs that
# change per commit, VERSION/REVISION/CREATED, are declared after them:
# a build arg in scope changes the cache key of every later RUN).

ARG DEBIAN_IMAGE=debian:bookworm-slim

FROM ${DEBIAN_IMAGE} AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      cmake g++ make pkg-config libcpp-httplib-dev libssl-dev zlib1g-dev libbrotli-dev \
      nlohmann-json3-dev libyaml-cpp-dev libcli11-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
# The whole source tree: the engine's layers, the server, the CLI and
# whatever folders come next.
COPY webhook/ webhook/
# The build tree is dropped in the same step: the layer holds the binary only.
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DPODGUARD_BUILD_TESTS=OFF -DPODGUARD_WARNINGS_AS_ERRORS=ON \
 && cmake --build build -j "$(nproc)" --target podguard \
 && install -s -m 0755 build/webhook/podguard /usr/local/bin/podguard \
 && rm -rf build \
 && podguard --version

# The runtime stage's dependency layer, a stage of its own so that it can be
# built alone (`--target runtime-base`, as tests/docker/verify-image.sh does
# to see it reused after a source change).
FROM ${DEBIAN_IMAGE} AS runtime-base
# Runtime libraries only; no compilers, no package lists left behind.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libcpp-httplib0.11 libssl3 libyaml-cpp0.7 zlib1g libbrotli1 ca-certificates \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/*

FROM runtime-base AS runtime
COPY --from=build /usr/local/bin/podguard /usr/local/bin/podguard
# Where the chart and manifests mount the policy and the TLS Secret.
# GLIBC_TUNABLES: glibc keeps more freed blocks per thread, so each review
# does not pay for consolidating the previous one's (docs/serve.md).
ENV GLIBC_TUNABLES=glibc.malloc.tcache_count=1000 \
    PODGUARD_CONFIG=/etc/podguard/config/policy.yaml \
    PODGUARD_TLS_CERT=/etc/podguard/tls/tls.crt \
    PODGUARD_TLS_KEY=/etc/podguard/tls/tls.key \
    PODGUARD_ADDR=0.0.0.0:8443 \
    PODGUARD_METRICS_ADDR=0.0.0.0:9090 \
    PODGUARD_PROBE_URL=http://127.0.0.1:9090/readyz
USER 1001:1001
EXPOSE 8443 9090
# podguard is PID 1 and handles SIGTERM itself (exec form, no shell).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 CMD ["/usr/local/bin/podguard", "probe"]
# The entrypoint is podguard itself, so the arguments of `docker run` are a
# subcommand: `serve` by default, or `check /src` to use the image in CI
# (docs/ci.md); its exit status is the container's.
ENTRYPOINT ["/usr/local/bin/podguard"]
CMD ["serve"]
# Release metadata last: these ARGs change with every commit, and nothing
# after them is expensive. An ARG before the first FROM is not in scope in
# a stage until it is declared again there, hence DEBIAN_IMAGE again.
ARG DEBIAN_IMAGE
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="podguard" \
      org.opencontainers.image.description="Kubernetes validating admission webhook and CI checker for the production container contract" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="https://github.com/podguard/podguard" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${DEBIAN_IMAGE}"
