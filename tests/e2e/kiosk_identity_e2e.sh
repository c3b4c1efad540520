#!/usr/bin/env bash
# End-to-end identity check: a real gateway on loopback (NCIIS simulator back end), idcard-sim on a
# pseudo-terminal, and the kiosk under Xvfb in one run: a resident card read and matched at NCIIS,
# an expired card refused, the reader unplugged (the kiosk says so) and plugged back in, and a read
# that works again without restarting the kiosk. Checks screenshots, the evidence files and that
# no log line holds an ID number.
#
# usage: kiosk_identity_e2e.sh KIOSK GATEWAY IDCARD_SIM CARDS_DIR SCREENSHOT_CHECK CATALOG_DIR WORK_DIR
set -euo pipefail
kiosk=$1 gateway=$2 sim=$3 cards=$4 check=$5 catalogs=$6 work=$7
here=$(cd "$(dirname "$0")" && pwd)

rm -rf "$work" && mkdir -p "$work/shots" "$work/state/run"
source "$here/../../tools/lib/local-head-office.sh"
source "$here/../../tools/lib/idcard-sim.sh"
source "$here/../../tools/lib/wait-for-log.sh"
cleanup() {
  [ -n "${GATEWAY_PID:-}" ] && kill -KILL "$GATEWAY_PID" 2>/dev/null || true
  [ -n "${IDCARD_SIM_PID:-}" ] && kill -KILL "$IDCARD_SIM_PID" 2>/dev/null || true
  [ -n "${watcher:-}" ] && kill "$watcher" 2>/dev/null || true
}
trap cleanup EXIT
start_local_gateway "$gateway" "$work"
enrol_test_kiosk "$gateway" "$work" E2E-0002 "$catalogs"
start_idcard_sim "$sim" "$cards" "$work/state/run/idcard-sim.tty" "$work" --card resident

(
  wait_for_log "$work/kiosk.log" '"event":"operation_refused"' 1 && idcard_sim_control "place expired"
  wait_for_log "$work/kiosk.log" '"event":"identity_failed"' 1 && idcard_sim_control "unplug"
  wait_for_log "$work/kiosk.log" '"event":"identity_started"' 3 && sleep 3 && idcard_sim_control "place resident-rare-name" && idcard_sim_control "replug"
) &
watcher=$!

xvfb-run -a -s "-screen 0 1920x1080x24" \
  "$kiosk" --config "$work/kiosk.toml" --windowed --size 1920x1080 \
  --script "$here/identity.script" --screenshot-dir "$work/shots"
echo "kiosk exited cleanly"
wait "$watcher"
watcher=

for name in zh_identity_result en_identity_result zh_identity_failed_expired zh_place_card_reader_offline \
  zh_identity_result_after_replug; do
  [ -s "$work/shots/$name.png" ] || { echo "FAIL: no screenshot $name.png"; exit 1; }
  "$check" nonblank "$work/shots/$name.png" 260 40 1400 200 1.0
done

log=$work/kiosk.log
[ "$(grep -c '"event":"identity_verified"' "$log")" -ge 2 ] || { echo "FAIL: expected two verified reads"; exit 1; }
grep -q '"event":"identity_verified".*"nciis":"MATCH"' "$log" || { echo "FAIL: no NCIIS MATCH"; exit 1; }
grep -q '"event":"identity_failed".*"code":"ID_EXPIRED"' "$log" || { echo "FAIL: the expired card was not refused"; exit 1; }
grep -q '"event":"id_reader_status","online":"false"' "$log" || { echo "FAIL: the unplugged reader was not noticed"; exit 1; }
# The last card's surname is in no catalog: the kiosk must have added its glyph to the font atlas.
grep -q '"event":"font_atlas_extended"' "$log" || { echo "FAIL: the font atlas was not extended for a new name"; exit 1; }
[ "$(grep -c '"event":"id_reader_status","online":"true"' "$log")" -ge 2 ] || {
  echo "FAIL: the reader did not come back online"
  exit 1
}
manifests=$(find "$work/state/evidence/identity" -name idv.json | wc -l)
[ "$manifests" -ge 3 ] || { echo "FAIL: expected 3 identity evidence manifests, found $manifests"; exit 1; }
grep -l '"result":"MATCH"' "$work"/state/evidence/identity/*/idv.json >/dev/null || {
  echo "FAIL: no evidence manifest records the NCIIS answer"
  exit 1
}
grep -q '"event":"nciis_check".*"result":"MATCH"' "$work/gateway.log" || {
  echo "FAIL: the gateway logged no NCIIS query"
  exit 1
}

# No personal data in logs: nothing shaped like a full ID number, and not the test name (REQ-48).
if grep -E -h '[0-9]{17}[0-9Xx]|测试一|甄试七' "$log" "$work/gateway.log"; then
  echo "FAIL: a log line holds personal data"
  exit 1
fi

stop_idcard_sim
status=0
stop_local_gateway || status=$?
[ "$status" -eq 0 ] || { echo "FAIL: gateway exited with $status after SIGTERM"; exit 1; }
echo "PASS: read, NCIIS match, expired refusal, unplug and replug in one kiosk run; evidence kept; no personal data logged"
echo "screenshots: $work/shots"
