#!/usr/bin/env bash
# Installs Debian's chromium for the queue UI browser test, once: playwright-core drives this
# system browser instead of downloading a browser build of its own. Idempotent and quiet when present.
set -euo pipefail

CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "chromium is missing at $CHROMIUM and installing it needs root (apt-get install -y chromium)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null
test -x "$CHROMIUM"
