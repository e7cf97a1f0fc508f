#!/bin/sh
# The image's entry point. `web`, `worker`, `clock` or `release` runs that line of the
# Procfile, so a container runs exactly what a platform reading the Procfile would;
# anything else runs as given (`kalan users add ...`, `sh`).
set -eu
procfile="$(dirname "$0")/../Procfile"
if [ $# -eq 1 ]; then
  case $1 in
    *[!a-z]* | '') ;;  # not a process name: a command
    *)
      line=$(sed -n "s/^$1:[[:space:]]*//p" "$procfile")
      # exec twice: the process itself gets the container's signals (a clean stop).
      if [ -n "$line" ]; then exec sh -c "exec $line"; fi
      ;;
  esac
fi
exec "$@"
