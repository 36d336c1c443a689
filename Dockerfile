# syntax=docker/dockerfile:1
# Sluice: MCP gateway for SQL databases.
#   docker build -t sluice .
# Needs BuildKit (the default since Docker 23) for the cache mounts.

# --- build ------------------------------------------------------------------
FROM rust:1-bookworm AS builder
WORKDIR /src

COPY Cargo.toml Cargo.lock ./
COPY crates ./crates
COPY migrations ./migrations
COPY openapi ./openapi

# target/ lives in a cache mount, so copy the binary out in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p server --bin sluice \
    && install -m 0755 target/release/sluice /usr/local/bin/sluice

# --- runtime ----------------------------------------------------------------
FROM debian:bookworm-slim

# No curl: health checks use bash's /dev/tcp (see docker-compose.yml).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 sluice \
    && useradd --system --uid 10001 --gid sluice \
        --home-dir /var/lib/sluice --no-create-home --shell /usr/sbin/nologin sluice \
    && install -d -o sluice -g sluice -m 0750 /var/lib/sluice

COPY --from=builder /usr/local/bin/sluice /usr/local/bin/sluice

ENV SLUICE_LISTEN=0.0.0.0:8080 \
    SLUICE_DATA_DIR=/var/lib/sluice

USER 10001:10001
WORKDIR /var/lib/sluice
EXPOSE 8080

ENTRYPOINT ["sluice"]
CMD ["serve"]
