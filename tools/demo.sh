#!/usr/bin/env bash
# The README's first command: install what is missing, build, start a local head office (gateway)
# and the kiosk with simulated devices. With a display, the kiosk and the witness console open
# windows. Without one, a scripted tour runs under Xvfb and saves one PNG per screen.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

bash image/install-packages.sh runtime build test
cmake --preset default >/dev/null
cmake --build --preset default --target kiosk gateway witness kioskctl idcard-sim

build=$root/build/default
bin=$build/bin
out=$root/out/demo
catalogs=$build/share/csdc-kiosk/i18n
mkdir -p "$out"
rm -f "$out"/*.log

# Head office: data directory, SQLite index and development PKI are created on the first run.
source "$root/tools/lib/local-head-office.sh"
source "$root/tools/lib/idcard-sim.sh"
start_local_gateway "$bin/gateway" "$out"
trap 'stop_idcard_sim; stop_local_gateway' EXIT

# The simulated ID-card reader, with a fictional resident card on it (hal/idcard/sim/cards), behind
# the link the kiosk opens for id_reader = "sim". Control it with lines such as "place expired",
# "remove" or "unplug" (hal/idcard/sim/README.md); interactively: echo "place expired" >&$IDCARD_SIM_FD.
start_idcard_sim "$bin/idcard-sim" "$root/hal/idcard/sim/cards" "$out/kiosk-state/run/idcard-sim.tty" "$out" \
  --card resident

# Development enrolment: the simulated kiosk gets a device certificate from the development PKI,
# and a development witness account exists for the console.
if [ ! -s "$out/device/device.crt" ]; then
  "$bin/gateway" enrol-dev --data-dir "$out/gateway-data" --device-id SIM-0001 --out "$out/device"
fi
if [ ! -f "$out/.witness-account" ]; then
  printf 'demo-witness\n' | "$bin/gateway" add-staff --data-dir "$out/gateway-data" \
    --staff-id W0001 --name "演示见证人" --role witness
  touch "$out/.witness-account"
fi

headless=1
[ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && headless=0

cat >"$out/kiosk.toml" <<TOML
[kiosk]
device_mode = "simulator"
device_id = "SIM-0001"
state_dir = "kiosk-state"
[gateway]
url = "https://127.0.0.1:$DEVICE_PORT"
ca_file = "device/ca.crt"
cert_file = "device/device.crt"
key_file = "device/device.key"
check_interval_seconds = 2
[ui]
fullscreen = false
renderer = "$([ $headless = 1 ] && echo software || echo auto)"
catalog_dir = "$catalogs"
# Short so the headless tour can show the idle warning; a branch kiosk keeps the default 90 s.
idle_timeout_seconds = $([ $headless = 1 ] && echo 10 || echo 90)
idle_warning_seconds = 20
# The demo runs on a developer's desktop: allow the maintenance exit (Ctrl+Alt+Shift+Q).
maintenance_exit = true
[log]
file = "kiosk.log"
TOML
cat >"$out/witness.toml" <<TOML
[gateway]
console_url = "https://127.0.0.1:$CONSOLE_PORT"
ca_file = "device/ca.crt"
[ui]
catalog_dir = "$catalogs"
[log]
file = "witness.log"
TOML
mkdir -p "$out/kiosk-state"

if [ $headless = 0 ]; then
  echo "demo: kiosk and witness console are opening. Witness sign-in: W0001 / demo-witness."
  echo "demo: close the kiosk with Ctrl+Alt+Shift+Q (maintenance exit, allowed in the demo config)."
  "$bin/witness" --config "$out/witness.toml" &
  witness_pid=$!
  "$bin/kiosk" --config "$out/kiosk.toml" --windowed --size 1280x800 || true
  kill -TERM "$witness_pid" 2>/dev/null || true
  wait "$witness_pid" 2>/dev/null || true
else
  shots=$out/screenshots
  rm -rf "$shots" && mkdir -p "$shots"
  echo "demo: no display; running the scripted tour under Xvfb"
  xvfb-run -a -s "-screen 0 1920x1080x24" "$bin/kiosk" --config "$out/kiosk.toml" \
    --windowed --size 1920x1080 --script "$root/ui/kiosk/scripts/all_screens.script" --screenshot-dir "$shots"
  xvfb-run -a -s "-screen 0 1280x800x24" "$bin/witness" --config "$out/witness.toml" \
    --script "$root/tools/demo/witness-sign-in.script" --screenshot-dir "$shots"
  echo
  echo "demo: screenshots (one PNG per screen): $shots"
  ls -1 "$shots" | sed 's/^/  /'
fi
stop_idcard_sim
stop_local_gateway
trap - EXIT
echo "demo: logs: $out/kiosk.log $out/gateway.log $out/witness.log"
echo "demo: head-office data (PKI, SQLite index): $out/gateway-data   device certificate: $out/device"
