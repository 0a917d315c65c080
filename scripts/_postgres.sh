# Start a throwaway PostgreSQL server on 127.0.0.1 (sourced). Sets PGPORT; stops and removes it on exit.
start_postgres() {
  local bindir
  bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$bindir" ]; then
    echo "PostgreSQL server binaries not found (apt-get install postgresql)." >&2
    return 1
  fi
  PGTMP=$(mktemp -d /tmp/orkestapay-pg.XXXXXX)
  PGPORT=$("${PY:-python3}" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  export PGPORT
  local run_as=()
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres:postgres "$PGTMP"
    run_as=(runuser -u postgres --)
  fi
  "${run_as[@]}" "$bindir/initdb" -D "$PGTMP/data" -U postgres -A trust --no-sync -E UTF8 >/dev/null
  "${run_as[@]}" "$bindir/pg_ctl" -D "$PGTMP/data" -l "$PGTMP/log" -w -o \
    "-p $PGPORT -k $PGTMP -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
    start >/dev/null
  trap 'stop_postgres' EXIT
  echo "PostgreSQL $("$bindir/postgres" --version | awk "{print \$3}") on 127.0.0.1:$PGPORT"
}

stop_postgres() {
  [ -n "${PGTMP:-}" ] || return 0
  local bindir run_as=()
  bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ "$(id -u)" -eq 0 ] && run_as=(runuser -u postgres --)
  "${run_as[@]}" "$bindir/pg_ctl" -D "$PGTMP/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$PGTMP"
}
