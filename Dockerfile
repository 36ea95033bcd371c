# droptrace as a container image. Two stages: `build` has the toolchain and makes the npm package
# exactly as `npm pack` does for a release; the runtime stage has Node and the installed package,
# and no compiler. The bases are build arguments so that a registry-less build can name local
# images (any Debian 12 root with Node 20 or newer on PATH will do).
#
#   docker build -t droptrace .
#   docker run --rm -it --cap-add SYS_ADMIN --cap-add NET_ADMIN --cap-add SYSLOG \
#     --pid=host --network=host \
#     -v /sys/kernel/btf:/sys/kernel/btf:ro -v /sys/kernel/tracing:/sys/kernel/tracing:ro \
#     -v /var/run/docker.sock:/var/run/docker.sock:ro droptrace --container nginx
ARG BUILD_BASE=node:20-bookworm
ARG RUNTIME_BASE=node:20-bookworm-slim

FROM ${BUILD_BASE} AS build
# clang, bpftool and libbpf-dev (bpf_helpers.h) for the CO-RE object and its skeleton; g++, cmake
# and make for the addon; patch, bzip2 and xz for the static libbpf, libelf and zlib that
# scripts/build-static-deps.sh builds from Debian's source packages
RUN set -eu; missing=; \
    for p in clang-16 bpftool libbpf-dev cmake make g++ pkg-config patch bzip2 xz-utils ca-certificates; do \
      dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; \
    done; \
    if [ -n "$missing" ]; then \
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing; \
      apt-get clean; rm -rf /var/lib/apt/lists/*; \
    fi
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm install --no-audit --no-fund
COPY . .
RUN mkdir /out && npm pack --pack-destination /out && mv /out/droptrace-*.tgz /out/droptrace.tgz

FROM ${RUNTIME_BASE}
# what droptrace runs for its evidence: ip (veth peers), iptables-save and nft (the rule that
# dropped), nsenter (util-linux, already in every Debian root)
RUN set -eu; missing=; \
    for p in iproute2 iptables nftables; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done; \
    if [ -n "$missing" ]; then \
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing; \
      apt-get clean; rm -rf /var/lib/apt/lists/*; \
    fi
COPY --from=build /out/droptrace.tgz /tmp/droptrace.tgz
# every runtime dependency is bundled in the tarball: no registry is needed here
RUN npm install --global --offline --no-audit --no-fund /tmp/droptrace.tgz && rm -rf /tmp/droptrace.tgz /root/.npm
ENTRYPOINT ["droptrace"]
