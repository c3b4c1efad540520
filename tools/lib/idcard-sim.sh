# Sourced by the demo and the end-to-end tests: runs idcard-sim (the simulated ID-card reader) with
# its control lines fed through a FIFO, so a script can place cards, inject faults and unplug it.
#   start_idcard_sim BINARY CARDS_DIR LINK DIR [ARGS...]   starts it behind the pty link LINK; the
#       FIFO, its answers and its request log live in DIR; sets IDCARD_SIM_PID; returns once ready.
#   idcard_sim_control LINE                                sends one control line ("place resident")
#   stop_idcard_sim                                        closes its input; it removes the link and exits.

start_idcard_sim() {
  local binary=$1 cards=$2 link=$3 dir=$4
  shift 4
  mkdir -p "$(dirname "$link")" "$dir"
  rm -f "$dir/idcard-sim.ctl" "$dir/idcard-sim.out"
  mkfifo "$dir/idcard-sim.ctl"
  "$binary" --link "$link" --cards "$cards" "$@" <"$dir/idcard-sim.ctl" >"$dir/idcard-sim.out" 2>"$dir/idcard-sim.log" &
  IDCARD_SIM_PID=$!
  exec {IDCARD_SIM_FD}>"$dir/idcard-sim.ctl"  # held open: the simulator stops at EOF
  for _ in $(seq 1 100); do
    grep -q '^ready' "$dir/idcard-sim.out" 2>/dev/null && return 0
    kill -0 "$IDCARD_SIM_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "idcard-sim did not start; its log:" >&2
  cat "$dir/idcard-sim.log" >&2 || true
  return 1
}

idcard_sim_control() { echo "$1" >&"$IDCARD_SIM_FD"; }

stop_idcard_sim() {
  [ -n "${IDCARD_SIM_PID:-}" ] || return 0
  exec {IDCARD_SIM_FD}>&-
  wait "$IDCARD_SIM_PID" 2>/dev/null || true
  IDCARD_SIM_PID=
}
