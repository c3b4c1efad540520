#!/usr/bin/env bash
# Installs whatever is missing from the named package lists in image/packages/.
#   image/install-packages.sh runtime build test
# Idempotent: when every package is present it only asks dpkg and returns in well under a second.
# The device image and both README commands use these same lists, so a package added here
# reaches the device, the developer and CI alike.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
lists=("$@")
[ ${#lists[@]} -gt 0 ] || lists=(runtime build test)

wanted=()
for list in "${lists[@]}"; do
  file="$here/packages/$list.txt"
  if [ ! -f "$file" ]; then
    echo "install-packages: no package list named '$list' (expected $file)" >&2
    exit 2
  fi
  while read -r line; do
    line=${line%%#*}
    line=$(echo "$line" | tr -d '[:space:]')
    [ -n "$line" ] && wanted+=("$line")
  done <"$file"
done

missing=()
for pkg in "${wanted[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  [ "$status" = installed ] || missing+=("$pkg")
done

# Debian's libimgui.a lacks the SDL_Renderer backend, whose source ships only under
# /usr/share/doc/libimgui-dev. Minimal systems drop /usr/share/doc (dpkg path-exclude); then take
# the file from the same Debian package into /usr/local/src, where ui/common/CMakeLists.txt looks next.
ensure_imgui_backend_source() {
  local doc=/usr/share/doc/libimgui-dev/examples/backends/imgui_impl_sdlrenderer.cpp
  local fallback=/usr/local/src/libimgui-dev/backends/imgui_impl_sdlrenderer.cpp
  [[ " ${wanted[*]} " == *" libimgui-dev "* ]] || return 0
  [ -f "$doc" ] || [ -f "$fallback" ] && return 0
  echo "install-packages: $doc was excluded by dpkg; extracting it from the libimgui-dev package"
  local tmp
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download libimgui-dev >/dev/null)
  dpkg-deb --fsys-tarfile "$tmp"/libimgui-dev_*.deb | tar -x -C "$tmp" ".$doc"
  "${sudo_cmd[@]}" install -D -m 0644 "$tmp$doc" "$fallback"
  rm -rf "$tmp"
}

if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then sudo_cmd=(sudo); else sudo_cmd=(); fi

if [ ${#missing[@]} -eq 0 ]; then
  ensure_imgui_backend_source
  echo "install-packages: all ${#wanted[@]} packages of [${lists[*]}] are installed"
  exit 0
fi

if [ "$(id -u)" -ne 0 ] && [ ${#sudo_cmd[@]} -eq 0 ]; then
  echo "install-packages: missing packages (${missing[*]}); run this script as root" >&2
  exit 1
fi

echo "install-packages: installing ${#missing[@]} missing packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# A fresh machine has empty package lists; refresh them once before installing.
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
ensure_imgui_backend_source
