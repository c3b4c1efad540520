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
# Every run starts from nothing: head office, the kiosk's journal and the simulated token are new,
# so the tour's investor holds no certificate yet.
rm -rf "$out" && mkdir -p "$out"

# Head office: data directory, SQLite index and development PKI are created on the first run.
source "$root/tools/lib/local-head-office.sh"
source "$root/tools/lib/idcard-sim.sh"
source "$root/tools/lib/counter-kiosk.sh"
# Short certificates, so that a renewal (allowed in the last 30 days) can be tried at once.
start_local_gateway "$bin/gateway" "$out" $'[ca]\nvalidity_days = 30\nrenewal_window_days = 30'
trap 'stop_idcard_sim; stop_local_gateway' EXIT

# The simulated ID-card reader, with a fictional resident card on it (hal/idcard/sim/cards), behind
# the link the kiosk opens for id_reader = "sim". Control it with lines such as "place expired",
# "remove" or "unplug" (hal/idcard/sim/README.md); interactively: echo "place expired" >&$IDCARD_SIM_FD.
start_idcard_sim "$bin/idcard-sim" "$root/hal/idcard/sim/cards" "$out/kiosk-state/run/idcard-sim.tty" "$out" \
  --card resident

# Development enrolment: the simulated kiosk gets a device certificate from the development PKI,
# and a development witness account exists for the console.
"$bin/gateway" enrol-dev --data-dir "$out/gateway-data" --device-id SIM-0001 --out "$out/device"
printf 'demo-witness\n' | "$bin/gateway" add-staff --data-dir "$out/gateway-data" \
  --staff-id W0001 --name "演示见证人" --role witness

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
# An attended-counter kiosk: staff sign in at the kiosk, a SoftHSM2 token is the investor's USB token.
make_counter_kiosk "$bin/gateway" "$out" "$root/kiosk/core/policy/default-rulepack.toml" "$out/kiosk-state"
add_simulated_token "$out/kiosk-state" demo-token

if [ $headless = 0 ]; then
  echo "demo: kiosk and witness console are opening. Witness sign-in: W0001 / demo-witness."
  echo "demo: staff at the kiosk: S0007 / Onsite7pass (on site), R0003 / Review3pass (reviewer);"
  echo "demo: the simulated token's initial PIN is 123456."
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
  echo "demo: the transactions' journal: $out/kiosk-state/journal/journal.sqlite (kioskctl journal show 1 --db ...);"
  echo "demo: their evidence: $out/kiosk-state/journal/evidence; sealed packages for head office: $out/kiosk-state/outbox"
  echo "demo: open one: build/default/bin/kioskctl evidence verify $out/kiosk-state/outbox/tx-00000001.csdcpkg \\"
  echo "        --device-cert $out/device/device.crt --key $out/evidence-recipient.key --json"
fi
stop_idcard_sim
stop_local_gateway
trap - EXIT
echo "demo: logs: $out/kiosk.log $out/gateway.log $out/witness.log"
echo "demo: head-office data (PKI, SQLite index): $out/gateway-data   device certificate: $out/device"
