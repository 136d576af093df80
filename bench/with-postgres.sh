#!/bin/sh
# Run a command against a throwaway PostgreSQL 15 cluster, as .ci/run does for the tests:
#   bench/with-postgres.sh .venv/bin/python -m bench      (or: make bench-pg)
# The cluster lives in a temporary directory, listens on 127.0.0.1 on a free port, runs as
# the user postgres with fsync off (as in CI), and is removed afterwards. DATABASE_URL is
# set for the command. Needs root (su postgres) and PostgreSQL 15 in /usr/lib/postgresql/15.
set -eu
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
pgdir=$(mktemp -d /tmp/mfaportal-bench-pg.XXXXXX)
chown postgres "$pgdir"
as_postgres() { su postgres -s /bin/sh -c "$*"; }
stop_pg() { as_postgres "$PGBIN/pg_ctl -D $pgdir/data -m fast stop" >/dev/null 2>&1 || true; rm -rf "$pgdir"; }
trap stop_pg EXIT INT TERM
as_postgres "$PGBIN/initdb -D $pgdir/data -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync" >/dev/null
as_postgres "$PGBIN/pg_ctl -D $pgdir/data -l $pgdir/log -w -o \"-p $port -k $pgdir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off\" start" >/dev/null
as_postgres "$PGBIN/createdb -h 127.0.0.1 -p $port mfaportal"
DATABASE_URL="postgres://postgres@127.0.0.1:$port/mfaportal" "$@"
