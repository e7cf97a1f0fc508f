#!/usr/bin/env bash
# Installs what tests/faults/test_pgbouncer.py runs in front of PostgreSQL: Debian's
# pgbouncer. Idempotent: when it is there it installs nothing. Run it before the tests
# (CI runs it as root); the test skips, saying so, when it is missing. Only the program is
# wanted: the package's own service stays stopped (the test starts a PgBouncer of its own).
set -euo pipefail

# Where tests/databases.py looks for it.
PGBOUNCER=/usr/sbin/pgbouncer

if [[ -x $PGBOUNCER ]]; then
  echo "pgbouncer-setup: pgbouncer is already installed"
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "pgbouncer-setup: no apt-get here; install PgBouncer at $PGBOUNCER" >&2
  exit 1
fi
as_root=()
if [[ $(id -u) -ne 0 ]]; then
  if ! command -v sudo >/dev/null; then
    echo "pgbouncer-setup: run as root to install pgbouncer" >&2
    exit 1
  fi
  as_root=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
${as_root[@]+"${as_root[@]}"} apt-get update -q
${as_root[@]+"${as_root[@]}"} apt-get install -y -q --no-install-recommends pgbouncer
# The package starts its service where systemd runs; nothing here needs it.
if command -v systemctl >/dev/null && systemctl is-active --quiet pgbouncer 2>/dev/null; then
  ${as_root[@]+"${as_root[@]}"} systemctl disable --now pgbouncer || true
fi
if [[ ! -x $PGBOUNCER ]]; then
  echo "pgbouncer-setup: installed, but $PGBOUNCER is still missing" >&2
  exit 1
fi
echo "pgbouncer-setup: pgbouncer installed"
