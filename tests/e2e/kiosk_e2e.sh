#!/usr/bin/env bash
# End-to-end: a real gateway on loopback, a development device certificate, and the kiosk under
# Xvfb driven by a script. Checks that the attract screen's title is drawn, that it matches the
# golden Chinese title, that switching to English changes it to the golden English title, and that
# both programs shut down cleanly. UPDATE_GOLDEN=1 rewrites the golden crops instead of comparing.
#
# usage: kiosk_e2e.sh KIOSK GATEWAY SCREENSHOT_CHECK CATALOG_DIR GOLDEN_DIR WORK_DIR
set -euo pipefail
kiosk=$1 gateway=$2 check=$3 catalogs=$4 golden=$5 work=$6
here=$(cd "$(dirname "$0")" && pwd)

# The title region of the attract screen at 1920x1080 (x y w h) and the allowed mean difference.
title_region=(260 300 1400 200)
max_mean_diff=4

rm -rf "$work" && mkdir -p "$work/shots"
source "$here/../../tools/lib/local-head-office.sh"
cleanup() { [ -n "${GATEWAY_PID:-}" ] && kill -KILL "$GATEWAY_PID" 2>/dev/null || true; }
trap cleanup EXIT
start_local_gateway "$gateway" "$work"
enrol_test_kiosk "$gateway" "$work" E2E-0001 "$catalogs"

xvfb-run -a -s "-screen 0 1920x1080x24" \
  "$kiosk" --config "$work/kiosk.toml" --windowed --size 1920x1080 \
  --script "$here/attract_language.script" --screenshot-dir "$work/shots"
echo "kiosk exited cleanly"

for name in attract_zh attract_en; do
  [ -s "$work/shots/$name.png" ] || { echo "FAIL: no screenshot $name.png"; exit 1; }
done
"$check" nonblank "$work/shots/attract_zh.png" "${title_region[@]}" 1.0
"$check" nonblank "$work/shots/attract_en.png" "${title_region[@]}" 1.0
if [ "${UPDATE_GOLDEN:-0}" = 1 ]; then
  "$check" crop "$work/shots/attract_zh.png" "${title_region[@]}" "$golden/attract_title_zh.png"
  "$check" crop "$work/shots/attract_en.png" "${title_region[@]}" "$golden/attract_title_en.png"
  echo "golden images rewritten in $golden"
fi
"$check" match "$work/shots/attract_zh.png" "${title_region[@]}" "$golden/attract_title_zh.png" "$max_mean_diff"
"$check" match "$work/shots/attract_en.png" "${title_region[@]}" "$golden/attract_title_en.png" "$max_mean_diff"
# The switch must really change the title: the English frame may not pass as the Chinese golden.
if "$check" match "$work/shots/attract_en.png" "${title_region[@]}" "$golden/attract_title_zh.png" "$max_mean_diff"; then
  echo "FAIL: the English title region still matches the Chinese golden image"
  exit 1
fi

grep -q '"event":"first_frame"' "$work/kiosk.log" || { echo "FAIL: kiosk logged no first_frame"; exit 1; }
grep -q '"event":"stopped"' "$work/kiosk.log" || { echo "FAIL: kiosk did not log a clean stop"; exit 1; }

# No personal data in logs: nothing shaped like a full resident ID number may appear (REQ-48).
if grep -E -h '[0-9]{17}[0-9Xx]' "$work/kiosk.log" "$work/gateway.log"; then
  echo "FAIL: a log line holds something shaped like an unmasked ID number"
  exit 1
fi

status=0
stop_local_gateway || status=$?
[ "$status" -eq 0 ] || { echo "FAIL: gateway exited with $status after SIGTERM"; exit 1; }
grep -q '"event":"stopped"' "$work/gateway.log" || { echo "FAIL: gateway did not log a clean stop"; exit 1; }
echo "PASS: attract screen drawn in zh_CN and en, both programs stopped cleanly"
