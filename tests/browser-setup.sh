#!/usr/bin/env bash
# Installs what tests/test_console_browser.py drives: Debian's headless Chromium and its
# Selenium driver. Idempotent: when both are there it installs nothing. Run it before the
# tests (CI runs it as root); the browser tests skip, saying so, when they are missing.
set -euo pipefail

# Where tests/test_console_browser.py looks for them.
CHROMIUM=/usr/bin/chromium
DRIVER=/usr/bin/chromedriver

if [[ -x $CHROMIUM && -x $DRIVER ]]; then
  echo "browser-setup: chromium and chromium-driver are already installed"
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "browser-setup: no apt-get here; install Chromium and chromedriver at $CHROMIUM and $DRIVER" >&2
  exit 1
fi
as_root=()
if [[ $(id -u) -ne 0 ]]; then
  if ! command -v sudo >/dev/null; then
    echo "browser-setup: run as root to install chromium and chromium-driver" >&2
    exit 1
  fi
  as_root=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
${as_root[@]+"${as_root[@]}"} apt-get update -q
${as_root[@]+"${as_root[@]}"} apt-get install -y -q --no-install-recommends chromium chromium-driver
if [[ ! -x $CHROMIUM || ! -x $DRIVER ]]; then
  echo "browser-setup: installed, but $CHROMIUM or $DRIVER is still missing" >&2
  exit 1
fi
echo "browser-setup: chromium and chromium-driver installed"
