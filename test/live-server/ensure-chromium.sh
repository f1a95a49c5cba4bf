#!/bin/sh
# Installs Debian's chromium for the live page browser test (test/live-server/page.e2e-spec.ts),
# only when /usr/bin/chromium is missing. Needs root (or sudo) and access to the Debian mirrors.
set -eu
if [ -x /usr/bin/chromium ]; then
  echo "chromium present: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends chromium fonts-dejavu-core
/usr/bin/chromium --version
