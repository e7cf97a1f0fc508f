#!/bin/sh
# Write a new .env for `docker compose` (docs/deploy.md): .env.example's settings, in
# production, with fresh secrets. Usage: deploy/new-env.sh [FILE]   (default: .env)
# It never overwrites: the REPORTER_KEY of an existing .env is what opens the stored numbers.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/.env}
if [ -e "$out" ]; then
  echo "new-env: $out exists; keep it (its REPORTER_KEY opens the stored numbers) or move it away first" >&2
  exit 1
fi
# What secrets.token_urlsafe(48) and Fernet.generate_key() give, with no Python needed.
token() { head -c 48 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'; }
fernet() { head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '\n'; }
umask 077  # secrets: readable by their owner only
tmp="$out.new.$$"
trap 'rm -f "$tmp"' EXIT
# The provider's account is left empty: compose refuses to start until it is set.
sed -e "s|^APP_ENV=.*|APP_ENV=production|" \
    -e "s|^SECRET_KEY=.*|SECRET_KEY=$(token)|" \
    -e "s|^WEBHOOK_TOKEN=.*|WEBHOOK_TOKEN=$(token)|" \
    -e "s|^METRICS_TOKEN=.*|METRICS_TOKEN=$(token)|" \
    -e "s|^REPORTER_KEY=.*|REPORTER_KEY=$(fernet)|" \
    -e "s|^AT_USERNAME=.*|AT_USERNAME=|" \
    -e "s|^AT_API_KEY=.*|AT_API_KEY=|" \
    "$root/.env.example" >"$tmp"
cat >>"$tmp" <<SETTINGS

# --- docker compose (compose.yaml, docs/deploy.md) ---
# The database's password, used by compose only.
POSTGRES_PASSWORD=$(token)
# Proxies in front of the web process: 1 for Caddy or one proxy of your own.
PROXY_HOPS=1
# HTTPS by the bundled Caddy: this server's public name, and uncomment the profile.
KALAN_DOMAIN=
#COMPOSE_PROFILES=https
# The web process on this server, for a proxy of your own: 127.0.0.1:WEB_PORT.
WEB_PORT=5000
# Where \`docker compose run --rm backup\` writes, and how many archives it keeps.
BACKUP_DIR=./backups
BACKUP_KEEP=14
SETTINGS
mv "$tmp" "$out"
trap - EXIT
echo "wrote $out with new secrets; now set AT_USERNAME and AT_API_KEY (docs/deploy.md)"
