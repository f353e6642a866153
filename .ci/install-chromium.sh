#!/usr/bin/env bash
# Installs Debian's headless-capable Chromium for the browser tests, once: nothing happens when
# /usr/bin/chromium is already there. Needs root (CI runs as root) and the Debian archive.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends chromium
