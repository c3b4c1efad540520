# Sourced by the demo and the end-to-end test, after local-head-office.sh: turns the enrolled test
# kiosk (enrol_test_kiosk) into an attended-counter kiosk that can run certificate transactions.
#   make_counter_kiosk GATEWAY_BINARY DIR DEFAULT_PACK [STATE_DIR]   (STATE_DIR default DIR/state,
#       the kiosk.toml's state_dir; DIR/kiosk.toml must exist, written by enrol_test_kiosk or the demo)
#       - DIR/counter-rulepack.toml: the default pack without the counter's [I] form-capture step
#         (the kiosk has no document camera yet; with the default pack the counter refuses at open),
#       - DIR/staff.toml: the staff feed (S0007 on site, R0003 reviewer) and the same two accounts
#         at head office (passwords in DIR/staff-passwords.txt, for the script),
#       - DIR/token-allowlist.toml: SoftHSM2's model, the simulated token,
#       - a SoftHSM2 store in STATE_DIR/softhsm with no token yet (an old one is emptied),
#       - DIR/evidence-recipient.{key,pem}: head office's evidence key pair (the kiosk gets the public
#         half; `kioskctl evidence verify --key` opens packages with the private one),
#       - and appends the matching keys to DIR/kiosk.toml.
#   add_simulated_token STATE_DIR LABEL   "inserts" a fresh token: initial PIN 123456 (the envelope's)
#   remove_simulated_token STATE_DIR LABEL

make_counter_kiosk() {
  local binary=$1 dir=$2 default_pack=$3 state=${4:-$2/state}
  sed -e 's/^counter = \["consent", "terms", "idv", "identity_check", "form_capture", /counter = ["consent", "terms", "idv", "identity_check", /' \
    -e 's/^extra_steps_before = "form_capture"/extra_steps_before = "review"/' \
    "$default_pack" >"$dir/counter-rulepack.toml"
  grep -q '"identity_check", "staff_countersign"' "$dir/counter-rulepack.toml" || {
    echo "make_counter_kiosk: the default pack's counter steps changed; update tools/lib/counter-kiosk.sh" >&2
    return 1
  }
  cat >"$dir/staff.toml" <<'TOML'
schema = 1

[[staff]]
id = "S0007"
name = "Zhou Min"
id_number = "440301198801015672"
roles = ["onsite", "operator"]
employment = "regular"
labor_contract = true
training_passed = 2023-03-01
qualification_number = "S0010200000007"
qualification_valid_until = 2035-12-31
status = "active"
reassessment_due = 2035-06-30

[[staff]]
id = "R0003"
name = "Qian Hua"
id_number = "440301198801015673"
roles = ["reviewer"]
employment = "regular"
labor_contract = true
training_passed = 2023-03-01
qualification_number = "S0010200000003"
qualification_valid_until = 2035-12-31
status = "active"
reassessment_due = 2035-06-30
TOML
  if [ ! -f "$dir/gateway-data/.counter-staff" ]; then
    printf 'Onsite7pass\n' | "$binary" add-staff --data-dir "$dir/gateway-data" --staff-id S0007 --name 'Zhou Min' --role operator
    printf 'Review3pass\n' | "$binary" add-staff --data-dir "$dir/gateway-data" --staff-id R0003 --name 'Qian Hua' --role reviewer
    touch "$dir/gateway-data/.counter-staff"
  fi
  cat >"$dir/token-allowlist.toml" <<'TOML'
# The simulated token's model; a branch lists its certified models with their numbers (REQ-04).
[[token_model]]
manufacturer = "SoftHSM project"
model = "SoftHSM v2"
certification_number = "SIM-SOFTHSM2"
TOML
  rm -rf "$state/softhsm"
  mkdir -p "$state/softhsm/tokens"
  printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
    "$state/softhsm/tokens" >"$state/softhsm/softhsm2.conf"
  [ -s "$dir/evidence-recipient.key" ] || {
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/evidence-recipient.key" 2>/dev/null
    openssl pkey -in "$dir/evidence-recipient.key" -pubout -out "$dir/evidence-recipient.pem"
  }
  # enrol_test_kiosk wrote [kiosk] first: its keys are added there, the new tables at the end.
  sed -i '/^\[kiosk\]/a mode = "attended-counter"\nrule_pack = "counter-rulepack.toml"\nstaff_registry = "staff.toml"' \
    "$dir/kiosk.toml"
  cat >>"$dir/kiosk.toml" <<'TOML'
[token]
allowlist = "token-allowlist.toml"
shuffled_keypad = true
key_type = "ec-p256"
reinsert_timeout_seconds = 10
[evidence]
recipient = "evidence-recipient.pem"
TOML
}

add_simulated_token() {
  local state=$1 label=$2
  SOFTHSM2_CONF="$state/softhsm/softhsm2.conf" softhsm2-util --init-token --free --label "$label" \
    --so-pin 87654321 --pin 123456 >/dev/null
}

remove_simulated_token() {
  local state=$1 label=$2
  SOFTHSM2_CONF="$state/softhsm/softhsm2.conf" softhsm2-util --delete-token --token "$label" >/dev/null
}
