#!/usr/bin/env bash
# Installs what `kalan audio build` runs: Debian's espeak-ng (placeholder voices) and sox
# (conversion to 8 kHz mono WAV). Idempotent: when both are there it installs nothing.
# As root it installs them with apt; otherwise it says what to install and exits 1.
set -euo pipefail

PACKAGES=(espeak-ng sox)  # each installs the command of the same name

missing=()
for package in "${PACKAGES[@]}"; do
  command -v "$package" >/dev/null || missing+=("$package")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "audio-setup: espeak-ng and sox are already installed"
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "audio-setup: no apt-get here; install ${missing[*]} with this system's package manager" >&2
  exit 1
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "audio-setup: missing ${missing[*]}; install as root:" \
    "sudo apt-get install --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
for package in "${missing[@]}"; do
  if ! command -v "$package" >/dev/null; then
    echo "audio-setup: installed, but $package is still not on the PATH" >&2
    exit 1
  fi
done
echo "audio-setup: installed ${missing[*]}"
