"""Databases beside the test run's own: a second one (a replica's stand-in), and a PgBouncer in
front of it in transaction pooling, as several machines would share PostgreSQL."""

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from app.infra.db import make_engine
from app.infra.migrate import upgrade
from app.infra.models import Base
from sandbox.embedded import free_port

# Debian's package; installing is for tests/pgbouncer-setup.sh, run before pytest.
PGBOUNCER = "/usr/sbin/pgbouncer"
needs_pgbouncer = pytest.mark.skipif(
    not Path(PGBOUNCER).exists(),
    reason=f"needs Debian's pgbouncer ({PGBOUNCER}): run tests/pgbouncer-setup.sh (as root)",
)
# Server connections in a zone other than UTC: the engine must set UTC itself.
SERVER_TZ = "Asia/Tokyo"
# Every sequence a test drew from starts again at 1, as TRUNCATE ... RESTART IDENTITY would.
RESTART_IDS = (
    "SELECT setval(quote_ident(schemaname) || '.' || quote_ident(sequencename), 1, false)"
    " FROM pg_sequences WHERE schemaname = current_schema() AND last_value IS NOT NULL"
)


def postgres_only(database_url: str) -> None:
    """Skip the test unless the run's database is PostgreSQL (TEST_DATABASE_URL)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("needs PostgreSQL: set TEST_DATABASE_URL (SQLite has no server to share)")


def waiting_on_a_lock(engine) -> int:
    """Count the PostgreSQL sessions of this database that wait for a row another holds."""
    with engine.connect() as conn:
        return conn.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                                "current_database() AND wait_event_type = 'Lock'"))  # fmt: skip


@contextlib.contextmanager
def another_database(database_url: str, folder: Path):
    """Yield the URL of a migrated database beside database_url's (a new file for SQLite, a
    new database on the same PostgreSQL server), dropped at the end."""
    if not database_url.startswith("postgresql"):
        url = f"sqlite:///{folder / f'other-{uuid.uuid4().hex[:8]}.db'}"
        upgrade(make_engine(url))
        yield url
        return
    name = f"kalan_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(make_engine(database_url).url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def empty(database_url: str) -> None:
    """Delete every row a test wrote, and start ids again at 1 as on a new database."""
    # DELETE, not TRUNCATE: on PostgreSQL a TRUNCATE makes and syncs new files for every
    # table, some 0.1-0.5 s a test where deleting a test's few rows takes milliseconds.
    deletes = [f'DELETE FROM "{table.name}"' for table in reversed(Base.metadata.sorted_tables)]
    engine = make_engine(database_url)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # One round trip; ids restart too, so a test sees the same ids on either database.
            conn.exec_driver_sql("; ".join([*deletes, RESTART_IDS]))
        else:
            for statement in deletes:
                conn.exec_driver_sql(statement)
            if any(t == "sqlite_sequence" for t in inspect(conn).get_table_names()):
                conn.exec_driver_sql("DELETE FROM sqlite_sequence")
    engine.dispose()


class Bouncer:
    """A PgBouncer running in front of one database: its URL, and its admin console."""

    def __init__(self, url: str, admin: str, log: Path):
        self.url, self.admin, self.log = url, admin, log

    def show(self, what: str) -> list[dict]:
        """Return the rows of the admin console's SHOW <what> (SERVERS, CLIENTS, POOLS...)."""
        import psycopg

        # The admin console speaks the simple query protocol only: libpq's exec, not psycopg's.
        with psycopg.connect(self.admin, autocommit=True) as conn:
            result = conn.pgconn.exec_(f"SHOW {what}".encode())
            names = [result.fname(i).decode() for i in range(result.nfields)]
            return [
                {names[c]: (result.get_value(r, c) or b"").decode() for c in range(result.nfields)}
                for r in range(result.ntuples)
            ]


@contextlib.contextmanager
def pgbouncer(database_url: str, pool_size: int = 2):
    """Run a PgBouncer in transaction pooling in front of database_url's PostgreSQL database,
    with pool_size server connections at most; yield a Bouncer."""
    target = make_url(database_url)
    user, port = target.username or "postgres", free_port()
    host, database = target.host or "127.0.0.1", target.database
    server = f"host={host} port={target.port or 5432} dbname={database} user={user}"
    server += f" timezone={SERVER_TZ}"
    if target.password:
        server += f" password={target.password}"
    # PgBouncer refuses to run as root: it then runs as nobody, who must read its files.
    folder = Path(tempfile.mkdtemp(prefix="kalan-pgbouncer-"))
    folder.chmod(0o755)
    ini, users, log = folder / "pgbouncer.ini", folder / "users.txt", folder / "pgbouncer.log"
    users.write_text(f'"{user}" ""\n')
    ini.write_text(
        f"[databases]\n{database} = {server}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {users}\nadmin_users = {user}\n"
        f"pool_mode = transaction\ndefault_pool_size = {pool_size}\nmax_client_conn = 500\n"
        # A client waiting longer than this for a server connection gets an error, not a hang.
        "query_wait_timeout = 20\n"
    )
    for path in (ini, users):
        path.chmod(0o644)
    command = [PGBOUNCER, *(["-u", "nobody"] if os.geteuid() == 0 else []), str(ini)]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while not _listens(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"pgbouncer did not start: {log.read_text()}")
            time.sleep(0.05)
        url = target.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
        admin = f"host=127.0.0.1 port={port} dbname=pgbouncer user={user}"
        yield Bouncer(url, admin, log)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


def _listens(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
        return True
    return False
