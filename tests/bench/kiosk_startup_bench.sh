#!/usr/bin/env bash
# Kiosk cold start to first frame (font atlas build included) and resident memory, against the
# anchor of a bare SDL window on the same machine, display and renderer. Runs each RUNS times under
# one Xvfb and reports medians and the ratio kiosk/anchor. Prints figures; asserts no time.
#
# usage: kiosk_startup_bench.sh KIOSK ANCHOR CATALOG_DIR WORK_DIR [RUNS]
set -euo pipefail
kiosk=$1 anchor=$2 catalogs=$3 work=$4 runs=${5:-5}
rm -rf "$work" && mkdir -p "$work"
printf 'quit\n' >"$work/quit.script"
cat >"$work/kiosk.toml" <<TOML
[gateway]
# Nothing listens here: start-up must not wait for head office.
url = "https://127.0.0.1:9"
[ui]
fullscreen = false
renderer = "software"
catalog_dir = "$catalogs"
[log]
file = "kiosk.log"
TOML

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
field() { sed -E "s/.*\"$1\":\"?([0-9.]+)\"?.*/\1/"; }

# Both programs run under the same X server, alternating, so that a busy moment hits both.
cat >"$work/runs.sh" <<SH
for _ in \$(seq 1 $runs); do
  "$anchor" --software >>"$work/anchor.jsonl"
  "$kiosk" --config "$work/kiosk.toml" --windowed --size 1920x1080 --script "$work/quit.script" >/dev/null 2>&1
done
SH
xvfb-run -a -s "-screen 0 1920x1080x24" bash "$work/runs.sh"

grep '"event":"first_frame"' "$work/kiosk.log" >"$work/kiosk.jsonl"
[ "$(wc -l <"$work/kiosk.jsonl")" -eq "$runs" ] || { echo "kiosk did not report first_frame $runs times"; exit 1; }
anchor_ms=$(field startup_ms <"$work/anchor.jsonl" | median)
anchor_kib=$(field rss_kib <"$work/anchor.jsonl" | median)
kiosk_ms=$(field startup_ms <"$work/kiosk.jsonl" | median)
atlas_ms=$(field font_atlas_ms <"$work/kiosk.jsonl" | median)
kiosk_kib=$(field rss_kib <"$work/kiosk.jsonl" | median)
glyphs=$(field glyphs <"$work/kiosk.jsonl" | median)
echo "kiosk cold start to first frame (median of $runs, Xvfb 1920x1080, software renderer):"
awk -v k="$kiosk_ms" -v a="$anchor_ms" -v f="$atlas_ms" -v g="$glyphs" \
  'BEGIN {printf "  kiosk %.1f ms (font atlas %.1f ms, %d glyphs)  anchor: bare SDL window %.1f ms  ratio %.2f\n", k, f, g, a, k/a}'
awk -v k="$kiosk_kib" -v a="$anchor_kib" \
  'BEGIN {printf "  resident memory at first frame: kiosk %.1f MiB  anchor %.1f MiB  ratio %.2f\n", k/1024, a/1024, k/a}'
