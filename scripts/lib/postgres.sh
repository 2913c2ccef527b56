# A throwaway local PostgreSQL for scripts/indexer and the indexer's test (tests/indexer/):
# Debian's server binaries, a data folder of the caller's, a Unix socket only (no TCP port is
# opened) that only its owner (and root) may reach, trust auth for the local superuser
# "postgres" through it. Sourced, not run.
#   pg_up DATA SOCKET_DIR PORT   initdb DATA the first time, then start the server
#   pg_down DATA                 stop it (fast: open transactions roll back)
#   pg_conninfo SOCKET_DIR PORT DB   the libpq connection string of database DB

pg_bin() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$d" ] || { echo "postgres: no PostgreSQL server installed (scripts/bootstrap installs it)" >&2; return 1; }
  echo "$d"
}

# PostgreSQL refuses to run as root: as root, the server runs as the postgres user.
pg_as() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_up() {
  local data=$1 sock=$2 port=$3 bin
  bin=$(pg_bin) || return 1
  mkdir -p "$data" "$sock"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$data" "$sock"; fi
  # Trust auth for whoever reaches the socket: only its owner may (and root).
  chmod 700 "$data" "$sock"
  if [ ! -f "$data/PG_VERSION" ]; then
    if ! pg_as "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 >"$sock/initdb.log" 2>&1; then
      echo "postgres: initdb failed:" >&2
      cat "$sock/initdb.log" >&2
      return 1
    fi
  fi
  if ! pg_as "$bin/pg_ctl" -D "$data" -l "$sock/postgres.log" -w -t 60 \
      -o "-k $sock -p $port -c listen_addresses='' -c unix_socket_permissions=0700" start >/dev/null; then
    echo "postgres: the server did not start; its log says:" >&2
    tail -20 "$sock/postgres.log" >&2
    return 1
  fi
}

pg_down() {
  local bin
  bin=$(pg_bin) || return 1
  [ -f "$1/postmaster.pid" ] || return 0
  pg_as "$bin/pg_ctl" -D "$1" -m fast -w stop >/dev/null
}

pg_conninfo() { echo "host=$1 port=$2 user=postgres dbname=$3"; }
