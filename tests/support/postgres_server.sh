#!/usr/bin/env bash
# A throw-away PostgreSQL server for tests: a fresh cluster in DIR, listening on 127.0.0.1:PORT and
# on a unix socket inside DIR, trust authentication (nothing but loopback can reach it), no fsync.
# PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user (DIR is
# handed to that user); as anyone else it runs as that user.
#
#   postgres_server.sh start DIR PORT [OWNER_PID]
#       initdb + start, waits (at most $POSTGRES_START_TIMEOUT seconds, default 30) until it accepts
#       connections, then prints the libpq conninfo. When OWNER_PID is given, a watchdog stops the
#       server as soon as that process is gone. Exit status 2: PostgreSQL is not installed (or
#       there is no user to run it as); 1: the server did not come up (reason on stderr).
#   postgres_server.sh stop DIR
set -u

find_bin_dir() {
  local candidate
  for candidate in "${POSTGRES_BIN_DIR:-}" $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -n "$candidate" ] && [ -x "$candidate/initdb" ] && [ -x "$candidate/pg_ctl" ] && { echo "$candidate"; return 0; }
  done
  command -v initdb >/dev/null && command -v pg_ctl >/dev/null && { dirname "$(command -v initdb)"; return 0; }
  return 1
}

stop_server() {
  local dir=$1 pid
  [ -f "$dir/server.pid" ] || return 0
  pid=$(cat "$dir/server.pid")
  # An immediate shutdown: the data is throw-away.
  kill -QUIT "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$dir/server.pid"
}

if [ "${1:-}" = stop ]; then
  stop_server "${2:?usage: postgres_server.sh stop DIR}"
  exit 0
fi
if [ "${1:-}" != start ] || [ $# -lt 3 ]; then
  echo "usage: postgres_server.sh start DIR PORT [OWNER_PID] | stop DIR" >&2
  exit 64
fi
DIR=$2 PORT=$3 OWNER_PID=${4:-}
TIMEOUT=${POSTGRES_START_TIMEOUT:-30}

BIN=$(find_bin_dir) || { echo "postgres_server.sh: PostgreSQL server programs (initdb, pg_ctl) are not installed" >&2; exit 2; }
AS_OWNER=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || { echo "postgres_server.sh: running as root and there is no postgres user to run the server as" >&2; exit 2; }
  command -v setpriv >/dev/null || { echo "postgres_server.sh: setpriv (util-linux) is needed to drop root" >&2; exit 2; }
  AS_OWNER=(setpriv --reuid=postgres --regid=postgres --init-groups --)
  mkdir -p "$DIR"
  chown postgres:postgres "$DIR"
  chmod 0700 "$DIR"
  "${AS_OWNER[@]}" test -w "$DIR" || {
    echo "postgres_server.sh: the postgres user cannot reach $DIR; make its parent directories searchable (chmod o+x)" >&2
    exit 1
  }
fi
mkdir -p "$DIR"

"${AS_OWNER[@]}" "$BIN/initdb" -D "$DIR/data" -U kiosk --auth=trust --encoding=UTF8 --locale=C.UTF-8 --no-sync \
  >"$DIR/initdb.log" 2>&1 || { echo "postgres_server.sh: initdb failed (see $DIR/initdb.log)" >&2; exit 1; }
mkdir -p "$DIR/socket"
[ "$(id -u)" = 0 ] && chown postgres:postgres "$DIR/socket"

# Started in the background (not pg_ctl): its PID is ours to kill, and it holds no pipe of the caller.
setsid "${AS_OWNER[@]}" "$BIN/postgres" -D "$DIR/data" \
  -c listen_addresses=127.0.0.1 -c port="$PORT" -c unix_socket_directories="$DIR/socket" \
  -c fsync=off -c synchronous_commit=off -c full_page_writes=off </dev/null >"$DIR/server.log" 2>&1 &
echo $! >"$DIR/server.pid"

if [ -n "$OWNER_PID" ]; then
  (
    while kill -0 "$OWNER_PID" 2>/dev/null && [ -f "$DIR/server.pid" ]; do sleep 1; done
    stop_server "$DIR"
  ) </dev/null >/dev/null 2>&1 &
fi

deadline=$((SECONDS + TIMEOUT))
until "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -d postgres -U kiosk; do
  if [ $SECONDS -ge $deadline ] || ! kill -0 "$(cat "$DIR/server.pid")" 2>/dev/null; then
    echo "postgres_server.sh: the server did not accept connections on 127.0.0.1:$PORT within ${TIMEOUT}s:" >&2
    tail -5 "$DIR/server.log" >&2
    stop_server "$DIR"
    exit 1
  fi
  sleep 0.1
done
echo "host=127.0.0.1 port=$PORT dbname=postgres user=kiosk connect_timeout=5"
