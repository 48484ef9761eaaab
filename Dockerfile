# syntax=docker/dockerfile:1
# podguard's production image.
#   docker build -t podguard:0.1.0 --build-arg VERSION=0.1.0 --build-arg REVISION=$(git rev-parse HEAD) .
# Two stages: the build stage has the compilers and -dev packages; the
# runtime stage has only the shared libraries podguard links, no shell
# tools beyond Debian's base, runs as the numeric non-root UID 1001, writes
# nothing to its filesystem (run it with --read-only) and logs to stdout.

ARG DEBIAN_IMAGE=debian:bookworm-slim

FROM ${DEBIAN_IMAGE} AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      cmake g++ make pkg-config libcpp-httplib-dev libssl-dev zlib1g-dev libbrotli-dev \
      nlohmann-json3-dev libyaml-cpp-dev libcli11-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY webhook/ webhook/
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DPODGUARD_BUILD_TESTS=OFF -DPODGUARD_WARNINGS_AS_ERRORS=ON \
 && cmake --build build -j "$(nproc)" --target podguard \
 && strip build/webhook/podguard \
 && build/webhook/podguard --version

FROM ${DEBIAN_IMAGE} AS runtime
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
# Runtime libraries only; no compilers, no package lists left behind.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libcpp-httplib0.11 libssl3 libyaml-cpp0.7 zlib1g libbrotli1 ca-certificates \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/*
COPY --from=build /src/build/webhook/podguard /usr/local/bin/podguard
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
ENTRYPOINT ["/usr/local/bin/podguard"]
CMD ["serve"]
