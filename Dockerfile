# syntax=docker/dockerfile:1
#
# The netpolc image: one fully static binary on `scratch`, running as a non-root user.
# Used as the Argo CD plugin sidecar (deploy/argocd) and as a KRM container function
# (kpt `image:`, kustomize `container:`); see docs/install.md.
#
#   docker build -t registry.example.invalid/netpolc:0.1.0 .
#
# The build downloads nothing but crates (cargo, from Cargo.lock): no package manager, no
# curl or wget. The builder image already has the static glibc that `+crt-static` links.

# The Rust toolchain; keep in step with rust-version in Cargo.toml (or newer), and pin it
# by digest in your release pipeline.
FROM docker.io/library/rust:1.85-bookworm AS build
WORKDIR /src
COPY . .
# The same command as docs/install.md: a static-pie executable, no dynamic loader.
RUN RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --profile static --locked --target x86_64-unknown-linux-gnu \
 && install -D -m 0755 target/x86_64-unknown-linux-gnu/static/netpolc /out/usr/local/bin/netpolc \
 && mkdir -p /out/etc /out/tmp \
 && chmod 1777 /out/tmp \
 && printf 'root:x:0:0:root:/:/sbin/nologin\nargocd:x:999:999:argocd:/:/sbin/nologin\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n' > /out/etc/passwd \
 && printf 'root:x:0:\nargocd:x:999:\nnobody:x:65534:\n' > /out/etc/group

FROM scratch
COPY --from=build /out/ /
ENV PATH=/usr/local/bin
# KRM functions run as `nobody` (kpt passes --user nobody, hence the passwd entry); the
# Argo CD sidecar overrides it with user 999 like the repo-server.
USER 65534:65534
# As a KRM function, the image reads a ResourceList on stdin (`netpolc fn`). Other uses
# set the command (the Argo CD sidecar runs argocd-cmp-server, which runs `netpolc render`).
ENTRYPOINT ["/usr/local/bin/netpolc"]
CMD ["fn"]
