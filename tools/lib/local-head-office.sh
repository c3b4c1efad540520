# Sourced by the demo and the end-to-end test: runs a gateway on loopback with its data in DIR.
#   start_local_gateway GATEWAY_BINARY DIR   writes DIR/gateway.toml, starts the gateway on free
#       ports, waits until it has published them; sets GATEWAY_PID, DEVICE_PORT, CONSOLE_PORT.
#       The data directory is DIR/gateway-data and the log DIR/gateway.log.
#   stop_local_gateway                       SIGTERM, then waits; returns the gateway's exit status.

start_local_gateway() {
  local binary=$1 dir=$2
  cat >"$dir/gateway.toml" <<TOML
[storage]
data_dir = "gateway-data"
[device_listener]
address = "127.0.0.1"
port = 0
[console_listener]
address = "127.0.0.1"
port = 0
[log]
file = "gateway.log"
TOML
  local ports_file=$dir/gateway-data/run/ports.json
  rm -f "$ports_file"
  "$binary" serve --config "$dir/gateway.toml" &
  GATEWAY_PID=$!
  for _ in $(seq 1 100); do
    [ -s "$ports_file" ] && break
    kill -0 "$GATEWAY_PID" 2>/dev/null || break
    sleep 0.1
  done
  if [ ! -s "$ports_file" ]; then
    echo "the gateway did not start; its log:" >&2
    cat "$dir/gateway.log" >&2 || true
    return 1
  fi
  DEVICE_PORT=$(sed -E 's/.*"device": *([0-9]+).*/\1/' "$ports_file")
  CONSOLE_PORT=$(sed -E 's/.*"console": *([0-9]+).*/\1/' "$ports_file")
}

stop_local_gateway() {
  [ -n "${GATEWAY_PID:-}" ] || return 0
  local status=0
  kill -TERM "$GATEWAY_PID" 2>/dev/null || true
  wait "$GATEWAY_PID" || status=$?
  GATEWAY_PID=""
  return "$status"
}
