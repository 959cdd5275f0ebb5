#!/usr/bin/env bash
# A private PostgreSQL server for telco360 under $TELCO360_HOME/pg, on 127.0.0.1:$TELCO360_PG_PORT.
#   bash infra/pg.sh up     install Debian's postgresql if missing, init, start; writes var/pg/env
#   bash infra/pg.sh down   stop it
#   bash infra/pg.sh restart  restart it (fast: cuts every connection)
# The DSN (with a generated password) and a generated TELCO360_PII_SALT are written to var/pg/env (mode 600),
# never to the repository.
set -euo pipefail
cmd=${1:-up}
root=$(cd "$(dirname "$0")/.." && pwd)
home=${TELCO360_HOME:-$root/var}
pgdir=$home/pg
port=${TELCO360_PG_PORT:-55432}

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
# the client package alone creates that folder: the server is there only if initdb is
if [ -n "$bindir" ] && [ ! -x "$bindir/initdb" ]; then bindir=""; fi
if [ -z "$bindir" ] && [ "$cmd" = up ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing PostgreSQL from Debian's packages..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq postgresql >/dev/null
    bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  else
    echo "PostgreSQL is not installed: sudo apt-get install postgresql (or set TELCO360_PG_DSN)" >&2
    exit 1
  fi
fi

# initdb/pg_ctl refuse root: run them as the postgres user when we are root
as_owner() {
  if [ "$(id -u)" = 0 ]; then su postgres -s /bin/bash -c "cd / && $*"; else bash -c "$*"; fi
}

# the server's own files: under var/pg, unless (as root) the postgres user cannot reach that folder
# (e.g. a checkout inside a mode-700 temporary folder): then under postgres's home, keyed by this checkout
datadir=$pgdir/data
sockdir=$pgdir
mkdir -p "$pgdir"
if [ "$(id -u)" = 0 ]; then
  chown postgres "$pgdir"; chmod 700 "$pgdir"
  if ! su postgres -s /bin/sh -c "test -w '$pgdir'" 2>/dev/null; then
    key=$(printf '%s' "$pgdir" | md5sum | cut -c1-10)
    sockdir=/var/lib/postgresql/telco360-$key
    datadir=$sockdir/data
    mkdir -p "$sockdir"; chown postgres "$sockdir"; chmod 700 "$sockdir"
  fi
fi

case "$cmd" in
  up)
    fresh=0
    if [ ! -f "$datadir/PG_VERSION" ]; then
      fresh=1
      as_owner "'$bindir/initdb' -D '$datadir' -U postgres --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8" >/dev/null
    fi
    if ! as_owner "'$bindir/pg_ctl' -D '$datadir' status" >/dev/null 2>&1; then
      as_owner "'$bindir/pg_ctl' -D '$datadir' -l '$sockdir/server.log' -w -o \"-p $port -k '$sockdir' -c listen_addresses=127.0.0.1\" start" >/dev/null
    fi
    if [ ! -f "$pgdir/env" ] || [ "$fresh" = 1 ]; then
      password=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
      as_owner "'$bindir/psql' -h '$sockdir' -p $port -U postgres -d postgres -v ON_ERROR_STOP=1 -q" <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'telco360') THEN
    CREATE ROLE telco360 LOGIN CREATEROLE;
  END IF;
END \$\$;
ALTER ROLE telco360 PASSWORD '$password';
SELECT 'CREATE DATABASE telco360 OWNER telco360' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'telco360')\gexec
SQL
      umask 077
      cat > "$pgdir/env" <<ENV
export TELCO360_PG_DSN='postgresql://telco360:$password@127.0.0.1:$port/telco360'
export TELCO360_PG_HOST=127.0.0.1 TELCO360_PG_PORT=$port TELCO360_PG_USER=telco360 TELCO360_PG_DB=telco360
export TELCO360_PG_PASSWORD='$password'
ENV
    fi
    # the salt the postgres warehouse hashes personal data with (dbt refuses to build without one): random,
    # generated once and kept with the DSN; a new one means a full rebuild (README: rotating the PII salt)
    if ! grep -q '^export TELCO360_PII_SALT=' "$pgdir/env"; then
      salt=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
      (umask 077; echo "export TELCO360_PII_SALT='$salt'" >> "$pgdir/env")
    fi
    echo "PostgreSQL on 127.0.0.1:$port (DSN in $pgdir/env)"
    ;;
  restart)
    # fast restart with the options it was started with: every open connection is cut (the failure drill)
    as_owner "'$bindir/pg_ctl' -D '$datadir' -m fast -w restart" >/dev/null
    echo "PostgreSQL restarted on 127.0.0.1:$port"
    ;;
  down)
    if [ -n "$bindir" ] && [ -f "$datadir/PG_VERSION" ]; then
      as_owner "'$bindir/pg_ctl' -D '$datadir' -m fast stop" >/dev/null 2>&1 || true
    fi
    ;;
  *) echo "usage: $0 up|down|restart" >&2; exit 2 ;;
esac
