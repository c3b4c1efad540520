#!/usr/bin/env bash
# fault-proxy on the command line: an openssl s_server behind it, curl in front of it, a fault set
# at run time through stdin breaks the next TLS session, and the counters say so.
# Usage: fault_proxy_cli_test.sh PATH_TO_FAULT_PROXY
set -euo pipefail
proxy_bin=$1
for program in openssl curl; do
  command -v "$program" > /dev/null || { echo "SKIP: needs $program"; exit 0; }
done

work=$(mktemp -d)
server_pid=
proxy_pid=
cleanup() {
  [[ -n $proxy_pid ]] && kill "$proxy_pid" 2> /dev/null || true
  [[ -n $server_pid ]] && kill "$server_pid" 2> /dev/null || true
  wait 2> /dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

wait_for_line() {  # FILE PATTERN: waits up to 10 s for a line matching PATTERN
  for _ in $(seq 200); do
    grep -q "$2" "$1" 2> /dev/null && return 0
    sleep 0.05
  done
  echo "FAIL: no '$2' in $1:"; cat "$1"; exit 1
}

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/key.pem" \
  -out "$work/cert.pem" -days 1 -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 2> /dev/null
openssl s_server -accept 127.0.0.1:0 -www -cert "$work/cert.pem" -key "$work/key.pem" \
  < /dev/null > "$work/server.out" 2> /dev/null &
server_pid=$!
wait_for_line "$work/server.out" '^ACCEPT'
server_port=$(sed -n 's/^ACCEPT 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$work/server.out")

# Bad arguments are refused with a clear message.
if "$proxy_bin" --target "127.0.0.1:$server_port" --cut-after sideways:10 2> "$work/bad.err"; then
  echo "FAIL: a bad direction was accepted"; exit 1
fi
grep -q 'c2s or s2c' "$work/bad.err" || { echo "FAIL: unclear error:"; cat "$work/bad.err"; exit 1; }

mkfifo "$work/commands"
"$proxy_bin" --target "127.0.0.1:$server_port" < "$work/commands" > "$work/proxy.out" &
proxy_pid=$!
exec 3> "$work/commands"  # held open so the proxy keeps reading commands
wait_for_line "$work/proxy.out" '"port"'
proxy_port=$(sed -n 's/^{"port":\([0-9]*\)}$/\1/p' "$work/proxy.out")

url="https://127.0.0.1:$proxy_port/"
curl -sS --max-time 20 --cacert "$work/cert.pem" "$url" > "$work/page.html"
grep -q s_server "$work/page.html" || { echo "FAIL: no s_server page through the proxy"; exit 1; }

echo "cut-after s2c:200" >&3
wait_for_line "$work/proxy.out" '"ok":"cut-after"'
if curl -sS --max-time 20 --cacert "$work/cert.pem" "$url" > /dev/null 2>&1; then
  echo "FAIL: the TLS session survived a cut at 200 bytes"; exit 1
fi

echo "counters" >&3
wait_for_line "$work/proxy.out" '"cuts_fired":1'
echo "quit" >&3
exec 3>&-
wait "$proxy_pid"
proxy_pid=
grep -q '"connections_accepted":2' "$work/proxy.out" || { echo "FAIL: counters:"; cat "$work/proxy.out"; exit 1; }
echo "PASS"
