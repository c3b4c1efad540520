# Sourced by the end-to-end tests, whose helpers act when the kiosk reaches a point of its script.
#   wait_for_log FILE PATTERN COUNT [SECONDS]   returns once FILE holds PATTERN (grep) at least COUNT
#       times; fails with a message after SECONDS (default 60).
wait_for_log() {
  local file=$1 pattern=$2 count=$3 seconds=${4:-60}
  local tries=$((seconds * 10)) seen
  for _ in $(seq 1 "$tries"); do
    seen=$(grep -c "$pattern" "$file" 2>/dev/null || true)
    [ "${seen:-0}" -ge "$count" ] && return 0
    sleep 0.1
  done
  echo "FAIL: $file never held $pattern ($count times) within ${seconds} s" >&2
  return 1
}
