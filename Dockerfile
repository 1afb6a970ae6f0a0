# Container images for mcp-webhook and mcp-controller (one file, two targets):
#   docker build --target webhook    -t ghcr.io/mcp-operator/mcp-webhook:0.1.0 .
#   docker build --target controller -t ghcr.io/mcp-operator/mcp-controller:0.1.0 .
# or `make images`. Build on Debian bookworm with the project's Makefile; the
# final stages are bookworm-slim with only the runtime shared libraries and
# the one binary, running as the non-root uid/gid 65532 (as the chart sets).

FROM debian:bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential pkg-config libh2o-evloop-dev libjansson-dev libcurl4-openssl-dev \
      libssl-dev libyaml-dev zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# only the sources the two binaries are built from (no host build/ outputs)
COPY Makefile ./
COPY common/ common/
COPY webhook/ webhook/
COPY controller/ controller/
RUN make -j"$(nproc)" build/mcp-webhook build/mcp-controller \
 && strip build/mcp-webhook build/mcp-controller

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libh2o-evloop0.13 libjansson4 libcurl4 libyaml-0-2 libssl3 zlib1g \
 && rm -rf /var/lib/apt/lists/*
USER 65532:65532

FROM runtime AS webhook
COPY --from=build /src/build/mcp-webhook /usr/local/bin/mcp-webhook
EXPOSE 8443 8081
ENTRYPOINT ["/usr/local/bin/mcp-webhook"]

FROM runtime AS controller
COPY --from=build /src/build/mcp-controller /usr/local/bin/mcp-controller
EXPOSE 8081
ENTRYPOINT ["/usr/local/bin/mcp-controller"]
