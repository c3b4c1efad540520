#!/bin/bash
# The anchor of the upload benchmark: one tus upload with the `curl` program, the way a field engineer
# would script it. Creates the upload, then PATCHes every chunk file of CHUNK_DIR in name order with
# its Upload-Checksum, one curl process (and so one TLS handshake) per chunk.
# Usage: curl_patch_loop.sh CURL URL CA CERT KEY PACKAGE_ID ARCHIVE_SHA256 LENGTH CHUNK_DIR
set -euo pipefail
curl_program=$1 url=$2 ca=$3 cert=$4 key=$5 package_id=$6 archive_sha256=$7 length=$8 chunk_dir=$9
tls=(--cacert "$ca" --cert "$cert" --key "$key")
b64() { printf '%s' "$1" | base64 -w0; }
metadata="package_id $(b64 "$package_id"),transaction_id $(b64 tx-00000001),archive_sha256 $(b64 "$archive_sha256")"
location=$("$curl_program" -sS "${tls[@]}" -o /dev/null -D - -X POST -H 'Tus-Resumable: 1.0.0' \
  -H "Upload-Length: $length" -H "Upload-Metadata: $metadata" "$url/v1/device/uploads" |
  tr -d '\r' | awk -F': ' 'tolower($1) == "location" { print $2 }')
[ -n "$location" ] || { echo "creation failed" >&2; exit 1; }
offset=0
for chunk in "$chunk_dir"/*; do
  checksum=$(openssl dgst -sha256 -binary "$chunk" | base64 -w0)
  status=$("$curl_program" -sS "${tls[@]}" -o /dev/null -w '%{http_code}' -X PATCH -H 'Expect:' \
    -H 'Tus-Resumable: 1.0.0' -H 'Content-Type: application/offset+octet-stream' \
    -H "Upload-Offset: $offset" -H "Upload-Checksum: sha256 $checksum" --data-binary @"$chunk" "$url$location")
  [ "$status" = 204 ] || { echo "PATCH at $offset answered $status" >&2; exit 1; }
  offset=$((offset + $(stat -c %s "$chunk")))
done
echo "$location"
