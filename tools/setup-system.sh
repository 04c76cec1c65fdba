#!/usr/bin/env bash
# Install the Debian packages Tunlan Halls needs, only those missing (idempotent, fast when done).
#   fonts-wqy-microhei  CJK font for text panels (the build fails clearly without one)
#   chromium            real browser for the viewer's end-to-end tests
#   nginx               production recipe for /objects/ and its test
#   redis-server        several server workers share presence and tours
#   openssl, wrk        the TLS test; the object-serving benchmark
#   xvfb, xdotool       the windowed client's test: a virtual X display, keys pressed in the window
#   libglx-mesa0, libgl1-mesa-dri  Mesa's GLX and software rasteriser: the client's window (pandagl) on Xvfb
set -euo pipefail
packages=(fonts-wqy-microhei chromium nginx redis-server openssl wrk xvfb xdotool libglx-mesa0 libgl1-mesa-dri)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
echo "setup: installing Debian packages: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
