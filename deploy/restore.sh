#!/bin/sh
# Restore an archive of deploy/backup.sh into Kalan's PostgreSQL database, all or nothing.
# Usage: deploy/restore.sh [--replace] FILE. The database: see database.sh.
# A database that already holds tables is replaced only with --replace, and only while
# nothing else is connected to it: stop web, worker and clock first (docs/deploy.md).
set -eu
# shellcheck source=deploy/database.sh
. "$(dirname "$0")/database.sh"

replace=no
if [ "${1:-}" = --replace ]; then
  replace=yes
  shift
fi
[ $# -eq 1 ] || fail 2 "usage: restore.sh [--replace] FILE"
archive=$1
if [ ! -f "$archive" ] || [ ! -r "$archive" ]; then fail 2 "$archive: no such readable file"; fi
# pg_restore's own words say why: not an archive, or one from a newer PostgreSQL.
why=$(pg_restore --list "$archive" 2>&1 >/dev/null) ||
  fail 2 "$archive is not an archive this pg_restore reads: $why"

query() { pg_tool psql --no-psqlrc --quiet --tuples-only --no-align --command="$1"; }
tables=$(query "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = 'public'") ||
  fail 1 "cannot reach the database; nothing was changed"
if [ "$tables" -gt 0 ]; then
  [ $replace = yes ] || fail 1 "the database already holds $tables tables; nothing was changed. \
To replace them with the archive, stop Kalan and run again with --replace"
  others=$(query "SELECT count(*) FROM pg_catalog.pg_stat_activity \
WHERE datname = current_database() AND pid <> pg_backend_pid()")
  [ "$others" -eq 0 ] || fail 1 "$others other connection(s) to the database; nothing was \
changed. Stop Kalan first (docker compose stop web worker clock)"
fi

# The whole archive as SQL first: if it does not read to its end, the database is untouched.
umask 077  # it holds every contact's phone number
sql=$(mktemp)
trap 'rm -f "$sql"' EXIT
pg_restore --no-owner --no-privileges --file="$sql" "$archive" ||
  fail 1 "$archive does not read to its end; nothing was changed"
# One transaction: the old schema goes only if the archive's goes in whole. Tables of a
# newer release go too, so `kalan db upgrade` starts from the archive's revision.
pg_tool psql --no-psqlrc --quiet --set=ON_ERROR_STOP=1 --single-transaction \
  --command='DROP SCHEMA IF EXISTS public CASCADE' --command='CREATE SCHEMA public' \
  --file="$sql" >/dev/null || fail 1 "the restore failed and was rolled back; nothing was changed"
echo "restored $archive; now run: kalan db upgrade (docker compose up -d does)"
