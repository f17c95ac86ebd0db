#!/usr/bin/env bash
# Install (from Debian packages, when missing) and start the PostgreSQL and Redis
# servers the test suite runs against, private to this checkout and listening
# only on 127.0.0.1, and install the Chromium its browser tests drive (tests/browser).
# Safe to run again: running servers are left as they are.
# Prints the environment the tests need: DATABASE_URL=... and REDIS_URL=...
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
# Outside the checkout: the postgres user must be able to reach it even when the
# checkout lives under a private home directory.
state=${TEST_SERVICES_DIR:-/tmp/receptionist-services-$(printf '%s' "$here" | md5sum | cut -c1-8)}
pg_port=${TEST_PG_PORT:-55432}
redis_port=${TEST_REDIS_PORT:-56379}
mkdir -p "$state"

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else
        echo "error: '$*' needs root. Run 'make test' as root, or install it yourself:" >&2
        echo "  sudo apt-get install -y postgresql redis-server chromium fonts-liberation" >&2
        exit 1
    fi
}

pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
missing=()
[ -n "$pg_bin" ] && [ -x "$pg_bin/initdb" ] || missing+=(postgresql postgresql-contrib)
command -v redis-server >/dev/null || missing+=(redis-server)
# With fonts, or the screenshots the browser tests save for the README show boxes for letters.
command -v chromium >/dev/null || missing+=(chromium fonts-liberation)
if [ ${#missing[@]} -gt 0 ]; then
    echo "Installing ${missing[*]} from Debian packages..." >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
    # The packaged services are not needed; ours run on their own ports and data.
    pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi

# PostgreSQL refuses to run as root: as root, the cluster belongs to the postgres user.
run_pg() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pgdata="$state/pgdata"
if ! run_pg "$pg_bin/pg_isready" -q -h 127.0.0.1 -p "$pg_port"; then
    if [ ! -s "$pgdata/PG_VERSION" ]; then
        rm -rf "$pgdata"
        mkdir -p "$pgdata"
        [ "$(id -u)" -eq 0 ] && chown -R postgres:postgres "$state"
        run_pg "$pg_bin/initdb" -D "$pgdata" -U receptionist --auth=trust -E UTF8 --locale=C.UTF-8 >"$state/initdb.log"
    fi
    [ "$(id -u)" -eq 0 ] && chown -R postgres:postgres "$pgdata"
    run_pg "$pg_bin/pg_ctl" -D "$pgdata" -l "$pgdata/server.log" -w -t 60 \
        -o "-h 127.0.0.1 -p $pg_port -k $pgdata -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        start >&2
fi
run_pg "$pg_bin/psql" -q -h 127.0.0.1 -p "$pg_port" -U receptionist -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = 'receptionist'" | grep -q 1 \
    || run_pg "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U receptionist receptionist

if ! redis-cli -h 127.0.0.1 -p "$redis_port" ping >/dev/null 2>&1; then
    redis-server --bind 127.0.0.1 --port "$redis_port" --daemonize yes --save "" --appendonly no \
        --dir "$state" --logfile "$state/redis.log" --pidfile "$state/redis.pid"
    for _ in $(seq 50); do
        redis-cli -h 127.0.0.1 -p "$redis_port" ping >/dev/null 2>&1 && break
        sleep 0.1
    done
fi

echo "DATABASE_URL=postgres://receptionist@127.0.0.1:$pg_port/receptionist"
echo "REDIS_URL=redis://127.0.0.1:$redis_port/0"
