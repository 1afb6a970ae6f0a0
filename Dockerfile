# Container images with Docker (`make images`); `make images-local` builds the
# same images without Docker (images/local.sh), and `make test-images-docker`
# checks that both paths give the same files. Both read images/versions.env:
# the Debian release, the packages of each image, the user.
#
#   docker build --target webhook    -t ghcr.io/mcp-operator/mcp-webhook:0.1.0 .
#   docker build --target controller -t ghcr.io/mcp-operator/mcp-controller:0.1.0 .
#   docker build --target proxy      -t ghcr.io/mcp-operator/mcp-proxy:0.1.0 .   (once proxy/ exists)
#   docker build --target chart-test -t ghcr.io/mcp-operator/mcp-chart-test:0.1.0 .
#
# The binaries are built on Debian with the project's Makefile; the final
# stages are <release>-slim with only the runtime shared libraries and the one
# binary (stripped), running as the non-root uid/gid 65532 (as the chart sets).
# Plain Dockerfile syntax (no BuildKit features): Debian's docker.io builds it.
ARG DEBIAN_SUITE=bookworm

FROM debian:${DEBIAN_SUITE} AS build
COPY images/versions.env /tmp/versions.env
RUN . /tmp/versions.env \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(echo "$BUILD_PKGS" | tr , ' ') \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# only the sources (.dockerignore lets in Makefile, mk/, common/, webhook/,
# controller/, proxy/; no host build/ outputs)
COPY . ./
RUN make -j"$(nproc)" build/mcp-webhook build/mcp-controller $(test ! -d proxy || echo build/mcp-proxy) \
 && strip --strip-unneeded build/mcp-*

FROM debian:${DEBIAN_SUITE}-slim AS runtime
COPY images/versions.env /tmp/versions.env
RUN . /tmp/versions.env \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(echo "$RUNTIME_PKGS" | tr , ' ') \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /tmp/versions.env
USER 65532:65532

FROM runtime AS webhook
COPY --from=build /src/build/mcp-webhook /usr/local/bin/mcp-webhook
EXPOSE 8443 8081
ENTRYPOINT ["/usr/local/bin/mcp-webhook"]

FROM runtime AS controller
COPY --from=build /src/build/mcp-controller /usr/local/bin/mcp-controller
EXPOSE 8081
ENTRYPOINT ["/usr/local/bin/mcp-controller"]

FROM debian:${DEBIAN_SUITE}-slim AS chart-test
COPY images/versions.env /tmp/versions.env
RUN . /tmp/versions.env \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(echo "$CHART_TEST_PKGS" | tr , ' ') \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /tmp/versions.env
USER 65532:65532
CMD ["/bin/sh"]

# last: the classic builder builds every stage before --target, and this one
# needs build/mcp-proxy, which exists only when proxy/ does
FROM runtime AS proxy
COPY --from=build /src/build/mcp-proxy /usr/local/bin/mcp-proxy
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/mcp-proxy"]
