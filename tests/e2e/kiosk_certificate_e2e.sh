#!/usr/bin/env bash
# End-to-end certificate transactions: a real gateway on loopback (local-ca, NCIIS simulator), the
# ID-card simulator, a SoftHSM2 token as the USB token, and the kiosk under Xvfb in attended-counter
# mode. One kiosk run performs all six operations in turn (certificate.script), with staff signing
# in at the kiosk. Then checks: six completed transactions in the journal, the CA's final states
# (kioskctl cert status), the certificate on the new token, screenshots, and no personal data in logs.
#
# usage: kiosk_certificate_e2e.sh KIOSK GATEWAY IDCARD_SIM KIOSKCTL CARDS_DIR SCREENSHOT_CHECK CATALOG_DIR
#                                 DEFAULT_PACK WORK_DIR
set -euo pipefail
kiosk=$1 gateway=$2 sim=$3 kioskctl=$4 cards=$5 check=$6 catalogs=$7 default_pack=$8 work=$9
here=$(cd "$(dirname "$0")" && pwd)

rm -rf "$work" && mkdir -p "$work/shots" "$work/state/run"
source "$here/../../tools/lib/local-head-office.sh"
source "$here/../../tools/lib/idcard-sim.sh"
source "$here/../../tools/lib/wait-for-log.sh"
source "$here/../../tools/lib/counter-kiosk.sh"
cleanup() {
  [ -n "${GATEWAY_PID:-}" ] && kill -KILL "$GATEWAY_PID" 2>/dev/null || true
  [ -n "${IDCARD_SIM_PID:-}" ] && kill -KILL "$IDCARD_SIM_PID" 2>/dev/null || true
  [ -n "${watcher:-}" ] && kill "$watcher" 2>/dev/null || true
}
trap cleanup EXIT
# Short certificates so that renew (allowed in the last 30 days) can follow apply at once.
start_local_gateway "$gateway" "$work" $'[ca]\nvalidity_days = 30\nrenewal_window_days = 30'
enrol_test_kiosk "$gateway" "$work" E2E-0005 "$catalogs"
make_counter_kiosk "$gateway" "$work" "$default_pack"
add_simulated_token "$work/state" investor-token-1
start_idcard_sim "$sim" "$cards" "$work/state/run/idcard-sim.tty" "$work" --card resident

# Before the reissue the old token is "damaged" (taken away) and a fresh one goes in.
(
  wait_for_log "$work/kiosk.log" '"event":"transaction_completed"' 4 300 &&
    remove_simulated_token "$work/state" investor-token-1 && add_simulated_token "$work/state" investor-token-2
) &
watcher=$!

xvfb-run -a -s "-screen 0 1920x1080x24" \
  "$kiosk" --config "$work/kiosk.toml" --windowed --size 1920x1080 \
  --script "$here/certificate.script" --screenshot-dir "$work/shots"
echo "kiosk exited cleanly"
wait "$watcher"
watcher=

for name in zh_choose_medium zh_consent zh_terms zh_staff_sign_in zh_staff_sign_in_decision zh_review_decision \
  zh_token_pin_set zh_done_apply zh_token_pin_current zh_done_renew zh_choose_reason_freeze \
  zh_done_freeze zh_done_unfreeze zh_done_reissue zh_revocation_confirm en_revocation_confirm zh_done_revoke \
  zh_soft_grant en_soft_grant zh_engineer_status en_engineer_status; do
  [ -s "$work/shots/$name.png" ] || { echo "FAIL: no screenshot $name.png"; exit 1; }
  "$check" nonblank "$work/shots/$name.png" 260 40 1400 200 1.0
done

log=$work/kiosk.log
[ "$(grep -c '"event":"transaction_completed"' "$log")" -eq 7 ] || { echo "FAIL: expected seven completed transactions"; exit 1; }
grep -q '"event":"transaction_opened".*"medium":"soft"' "$log" || { echo "FAIL: no soft apply was opened"; exit 1; }
db=$work/state/journal/journal.sqlite
for tx in 1 2 3 4 5 6 7; do
  "$kioskctl" journal show "$tx" --db "$db" --json >"$work/tx-$tx.json"
  grep -q '"state":"completed"' "$work/tx-$tx.json" || { echo "FAIL: transaction $tx is not completed"; exit 1; }
done
ops=$(for tx in 1 2 3 4 5 6 7; do sed -E 's/.*"operation":"([a-z]+)".*/\1/' "$work/tx-$tx.json"; done | tr '\n' ' ')
[ "$ops" = "apply renew freeze unfreeze reissue revoke apply " ] || { echo "FAIL: operations were: $ops"; exit 1; }

# The CA's view: every certificate of the run and its final state.
# The `issue` step's evidence holds head office's answer (kind ca_answer) with the serial.
serial_of() {
  local answer
  answer=$(find "$work/state/journal/evidence/$(printf 'tx-%08d' "$1")" -name '*-issue-*-ca_answer')
  sed -E 's/.*"serial":"([0-9A-F]+)".*/\1/' "$answer"
}
link=(--gateway "https://127.0.0.1:$DEVICE_PORT" --ca-file "$work/device/ca.crt" --cert "$work/device/device.crt"
  --key "$work/device/device.key")
state_of() { "$kioskctl" cert status "$1" "${link[@]}" --json | sed -E 's/.*"state":"([a-z_]+)".*/\1/'; }
applied=$(serial_of 1) renewed=$(serial_of 2) reissued=$(serial_of 5)
[ -n "$applied" ] && [ -n "$renewed" ] && [ -n "$reissued" ] || { echo "FAIL: a serial is missing from the journal"; exit 1; }
[ "$(state_of "$applied")" = revoked ] || { echo "FAIL: the applied certificate was not superseded by the renewal"; exit 1; }
[ "$(state_of "$renewed")" = revoked ] || { echo "FAIL: the renewed certificate was not revoked by the reissue"; exit 1; }
[ "$(state_of "$reissued")" = revoked ] || { echo "FAIL: the reissued certificate was not revoked at the end"; exit 1; }
[ "$(serial_of 6)" = "$reissued" ] || { echo "FAIL: revoke acted on another certificate"; exit 1; }
# The soft apply left a reservation for the investor's own software, and its code is nowhere on disk.
soft=$(serial_of 7)
[ "$(state_of "$soft")" = pending_download ] || { echo "FAIL: the soft certificate is not waiting for download"; exit 1; }
grep -q '"download_reference":"SC[0-9]*"' "$(find "$work/state/journal/evidence/tx-00000007" -name '*-ca_answer')" || {
  echo "FAIL: the soft apply's evidence lacks the download reference"
  exit 1
}

# The new token holds the reissued certificate, read back through PKCS#11.
SOFTHSM2_CONF="$work/state/softhsm/softhsm2.conf" "$kioskctl" token list --module /usr/lib/softhsm/libsofthsm2.so \
  --allowlist "$work/token-allowlist.toml" --json >"$work/tokens.json"
grep -q 'investor-token-2' "$work/tokens.json" || { echo "FAIL: the new token is not listed"; exit 1; }

# Every transaction was sealed into an evidence package and queued; one opens with head office's key
# and gives back exactly the journal's evidence.
packages=$(find "$work/state/outbox" -maxdepth 1 -name 'tx-*.csdcpkg' | wc -l)
[ "$packages" -eq 7 ] || { echo "FAIL: expected 7 sealed evidence packages, found $packages"; exit 1; }
"$kioskctl" evidence verify "$work/state/outbox/tx-00000001.csdcpkg" --device-cert "$work/device/device.crt" \
  --key "$work/evidence-recipient.key" --decrypt-to "$work/opened" --json >"$work/verify.json"
grep -q '"verdict":"valid"' "$work/verify.json" || { echo "FAIL: the first package does not verify"; exit 1; }
digests() { sha256sum "$@" | cut -d' ' -f1 | sort; }
[ "$(digests "$work"/opened/*)" = "$(digests "$work"/state/journal/evidence/tx-00000001/*)" ] || {
  echo "FAIL: the decrypted evidence differs from the journal's"
  exit 1
}
# The card's ID number and name (hal/idcard/sim/cards/resident.toml) appear in no package file in
# clear. (A pattern such as 18 digits would also match runs inside the hex hashes.)
if grep -rqaF -e 11010519491231002X -e 测试一 "$work/state/outbox"/*.csdcpkg; then
  echo "FAIL: a package file holds the investor's ID number or name in clear"
  exit 1
fi

if grep -F -h -e 11010519491231002X -e 测试一 -e Onsite7pass -e Review3pass -e 654321 -e 112233 "$log" "$work/gateway.log"; then
  echo "FAIL: a log line holds personal data, a password or a PIN"
  exit 1
fi

stop_idcard_sim
status=0
stop_local_gateway || status=$?
[ "$status" -eq 0 ] || { echo "FAIL: gateway exited with $status after SIGTERM"; exit 1; }
echo "PASS: apply, renew, freeze, unfreeze, reissue, revoke and a soft apply in one kiosk run; journal and CA agree; no secrets logged"
echo "screenshots: $work/shots"
