#!/bin/sh
# Back Kalan's PostgreSQL database up into DIR, as one archive of pg_dump's custom format,
# read back whole before it counts; then keep the newest BACKUP_KEEP archives (14).
# Usage: deploy/backup.sh [DIR]   (default: backups). The database: see database.sh.
# Restore with deploy/restore.sh (docs/deploy.md).
set -eu
# shellcheck source=deploy/database.sh
. "$(dirname "$0")/database.sh"

dir=${1:-backups}
keep=${BACKUP_KEEP:-14}
case $keep in
  '' | *[!0-9]* | 0*) fail 2 "BACKUP_KEEP must be a whole number of 1 or more, not '$keep'" ;;
esac
# The archive holds every contact's phone number: for its owner's eyes only.
umask 077
mkdir -p "$dir" || fail 1 "cannot create $dir"

archive="$dir/kalan-$(date -u +%Y%m%dT%H%M%SZ).dump"
[ -e "$archive" ] && fail 1 "$archive exists already: one backup a second at most"
# Written under another name and renamed once checked: a cut-off backup never looks whole.
partial="$archive.partial"
trap 'rm -f "$partial"' EXIT
pg_tool pg_dump --format=custom --file="$partial" || fail 1 "pg_dump failed; no backup was made"
# Reading every table's data back catches a truncated or damaged archive now, not on the
# day it is needed.
pg_restore --file=/dev/null "$partial" || fail 1 "the new archive does not read back; no backup was made"
mv "$partial" "$archive"
trap - EXIT
echo "backup: $archive ($(wc -c <"$archive" | tr -d ' ') bytes)"

# Names sort by date, oldest first: drop all but the newest $keep, and nothing else in DIR.
ours='kalan-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z.dump'
count=0
for old in "$dir"/$ours; do
  [ -e "$old" ] && count=$((count + 1))
done
excess=$((count - keep))
for old in "$dir"/$ours; do
  [ "$excess" -gt 0 ] || break
  rm -f "$old"
  echo "backup: removed $old (BACKUP_KEEP=$keep)"
  excess=$((excess - 1))
done
