# Start a throwaway Redis server on 127.0.0.1 (sourced): a free port, no persistence, no password (loopback only).
# Sets REDIS_URL; stops it and removes its directory on exit (after whatever EXIT trap was already set, such as
# start_postgres's).
start_redis() {
  if ! command -v redis-server >/dev/null 2>&1; then
    echo "redis-server not found (apt-get install redis-server)." >&2
    return 1
  fi
  REDISTMP=$(mktemp -d /tmp/orkestapay-redis.XXXXXX)
  REDISPORT=$("${PY:-python3}" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  redis-server --bind 127.0.0.1 --port "$REDISPORT" --save "" --appendonly no --dir "$REDISTMP" \
    --daemonize yes --pidfile "$REDISTMP/redis.pid" --logfile "$REDISTMP/log" >/dev/null
  local tries=0
  until redis-cli -h 127.0.0.1 -p "$REDISPORT" ping >/dev/null 2>&1; do
    tries=$((tries + 1))
    if [ "$tries" -gt 100 ]; then
      echo "Redis did not start; its log:" >&2
      cat "$REDISTMP/log" >&2
      return 1
    fi
    sleep 0.1
  done
  REDIS_URL="redis://127.0.0.1:${REDISPORT}/0"
  export REDIS_URL
  # Chain onto the EXIT trap already set (trap -p prints it as a command: take its third word, the action).
  local previous=""
  eval "set -- $(trap -p EXIT)"
  [ $# -ge 3 ] && previous=$3
  trap "stop_redis${previous:+; $previous}" EXIT
  echo "Redis $(redis-server --version | sed -E 's/.* v=([^ ]+).*/\1/') on 127.0.0.1:$REDISPORT"
}

stop_redis() {
  [ -n "${REDISTMP:-}" ] || return 0
  if [ -f "$REDISTMP/redis.pid" ]; then
    kill "$(cat "$REDISTMP/redis.pid")" 2>/dev/null || true
    local tries=0
    while [ -f "$REDISTMP/redis.pid" ] && [ "$tries" -lt 50 ]; do
      sleep 0.1
      tries=$((tries + 1))
    done
  fi
  rm -rf "$REDISTMP"
  REDISTMP=""
}
