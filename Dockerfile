# pgshift in a small image, for CI jobs and Kubernetes (docs/install.md#container):
#   docker build -t pgshift .
#   docker run --rm -v "$PWD:/work" -e DATABASE_URL pgshift migrate
# It holds pgshift and the PostgreSQL client programs (psql, pg_dump) of every supported server
# major, from the PostgreSQL project's apt repository: pgshift runs the pg_dump of the server's
# major (/usr/lib/postgresql/<major>/bin), never an older one. It runs as a user without
# privileges (uid 10001); the working directory /work holds pgshift.toml and migrations/, and
# backups/ under it must be writable by that user (a volume in Kubernetes).

ARG DEBIAN=bookworm

FROM rust:1-${DEBIAN} AS build
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends libclang-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked \
 && strip target/release/pgshift \
 && target/release/pgshift --version

FROM debian:${DEBIAN}-slim
ARG DEBIAN
# Server majors whose pg_dump and psql the image carries (the newest dumps any older server too).
ARG PG_MAJORS="14 15 16 17 18"
RUN set -eux; \
    apt-get update -qq; \
    apt-get install -y -qq --no-install-recommends ca-certificates curl gnupg; \
    install -d /usr/share/postgresql-common/pgdg; \
    curl -fsSL -o /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc https://www.postgresql.org/media/keys/ACCC4CF8.asc; \
    echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt ${DEBIAN}-pgdg main" \
      > /etc/apt/sources.list.d/pgdg.list; \
    apt-get update -qq; \
    packages=""; for major in ${PG_MAJORS}; do packages="$packages postgresql-client-$major"; done; \
    apt-get install -y -qq --no-install-recommends $packages; \
    apt-get purge -y -qq curl gnupg; \
    apt-get autoremove -y -qq; \
    rm -rf /var/lib/apt/lists/*; \
    for major in ${PG_MAJORS}; do /usr/lib/postgresql/$major/bin/pg_dump --version; done
COPY --from=build /src/target/release/pgshift /usr/local/bin/pgshift
RUN useradd --uid 10001 --user-group --home-dir /work --create-home --shell /usr/sbin/nologin pgshift
USER 10001:10001
WORKDIR /work
ENTRYPOINT ["pgshift"]
CMD ["--help"]
