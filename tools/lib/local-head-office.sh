# Sourced by the demo and the end-to-end test: runs a gateway on loopback with its data in DIR.
#   start_local_gateway GATEWAY_BINARY DIR [EXTRA_TOML]
#       writes DIR/gateway.toml (plus EXTRA_TOML, e.g. a [ca] table), starts the gateway on free
#       ports, waits until it has published them; sets GATEWAY_PID, DEVICE_PORT, CONSOLE_PORT.
#       The data directory is DIR/gateway-data and the log DIR/gateway.log.
#   stop_local_gateway                       SIGTERM, then waits; returns the gateway's exit status.
#   enrol_test_kiosk GATEWAY_BINARY DIR DEVICE_ID CATALOGS
#       enrols DEVICE_ID (certificate in DIR/device) and writes DIR/kiosk.toml for a windowed,
#       software-rendered kiosk of that device talking to the started gateway; state in DIR/state,
#       log in DIR/kiosk.log. The end-to-end tests use it.

start_local_gateway() {
  local binary=$1 dir=$2 extra=${3:-}
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
  [ -z "$extra" ] || printf '%s\n' "$extra" >>"$dir/gateway.toml"
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

enrol_test_kiosk() {
  local binary=$1 dir=$2 device_id=$3 catalogs=$4
  "$binary" enrol-dev --data-dir "$dir/gateway-data" --device-id "$device_id" --out "$dir/device"
  mkdir -p "$dir/state"
  cat >"$dir/kiosk.toml" <<TOML
[kiosk]
device_id = "$device_id"
state_dir = "state"
[gateway]
url = "https://127.0.0.1:$DEVICE_PORT"
ca_file = "device/ca.crt"
cert_file = "device/device.crt"
key_file = "device/device.key"
check_interval_seconds = 1
[ui]
fullscreen = false
renderer = "software"
catalog_dir = "$catalogs"
[log]
file = "kiosk.log"
TOML
}
