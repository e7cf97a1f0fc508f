# Sourced by backup.sh and restore.sh: which PostgreSQL database, and how to fail.
# The database is DATABASE_URL's (as Kalan reads it) when set, else libpq's own
# variables: PGHOST, PGPORT, PGUSER, PGPASSWORD (or ~/.pgpass), PGDATABASE.

fail() {  # fail CODE MESSAGE: one line on stderr, then exit
  code=$1
  shift
  echo "$(basename "$0"): $*" >&2
  exit "$code"
}

# The PostgreSQL tools take libpq's URL: no SQLAlchemy driver (postgresql+psycopg://).
database=
if [ -n "${DATABASE_URL:-}" ]; then
  case $DATABASE_URL in
    postgres://* | postgresql://* | postgresql+*://*)
      database=postgresql://${DATABASE_URL#*://}
      ;;
    *) fail 2 "DATABASE_URL is not a PostgreSQL URL (${DATABASE_URL%%:*}): only PostgreSQL is backed up here" ;;
  esac
elif [ -z "${PGDATABASE:-}" ]; then
  fail 2 "no database named: set DATABASE_URL, or PGDATABASE with PGHOST and PGUSER"
fi

# pg_tool NAME ARGS...: run a PostgreSQL tool on that database.
pg_tool() {
  tool=$1
  shift
  if [ -n "$database" ]; then
    "$tool" --dbname="$database" "$@"
  else
    "$tool" "$@"
  fi
}

for tool in pg_dump pg_restore psql; do
  command -v "$tool" >/dev/null || fail 2 "$tool is missing: install PostgreSQL's client tools"
done
