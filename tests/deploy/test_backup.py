"""deploy/backup.sh and deploy/restore.sh, against the test's PostgreSQL server."""

import os
import shutil
import stat
import subprocess
import sys

import pytest
from sqlalchemy import insert, select, text

from app.infra.db import make_engine
from app.infra.migrate import current, upgrade
from app.infra.models import Base, Contact, utcnow
from app.people import users
from tests.helpers import CALM, report

from .conftest import libpq, run


def migrate(url: str) -> None:
    """Bring a database to the current schema, leaving no connection open."""
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()


# Overwrites 64 bytes near the end of the file named, in place, as a failing disk would.
# The end of an archive is table data; its table of contents comes first.
DAMAGE = (
    "import sys; path = sys.argv[1]; data = bytearray(open(path, 'rb').read()); "
    "data[-80:-16] = bytes(64); open(path, 'wb').write(data)"
)


def damage(path) -> None:
    """Damage a file as DAMAGE does."""
    subprocess.run([sys.executable, "-c", DAMAGE, str(path)], check=True)


def snapshot(url: str) -> dict:
    """Return every row of every table of ours, in key order, and the schema's revision."""
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = {
            table.name: conn.execute(select(table).order_by(*table.primary_key.columns)).all()
            for table in Base.metadata.sorted_tables
        }
    rows["alembic_version"] = current(engine)
    engine.dispose()
    return rows


@pytest.fixture
def filled(source, make_app):
    """A migrated database with what Kalan writes: a report, its receipt, a console user."""
    url = source
    migrate(url)
    app = make_app(DATABASE_URL=url)
    _, screen = report(app.test_client(), *CALM)  # contactable, with an SMS receipt
    assert "Référence" in screen
    with app.extensions["db"]() as db:
        db.add(Contact(phone="+22370000123", name="Aïssata Traoré", role="agent",
                       created_at=utcnow()))  # fmt: skip
        # Enough rows that the archive's data outweighs its table of contents.
        db.execute(insert(Contact), [{"phone": f"+2237100{n:04d}", "name": f"Agent {n * 7919}",
                                      "role": "agent"} for n in range(2000)])  # fmt: skip
        users.add(db, "admin@kalan.ml", "admin", "mot-de-passe-solide", None)
        db.commit()
    app.extensions["engine"].dispose()
    return url


def backups(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_a_backup_restored_into_an_empty_database_holds_the_same_rows(filled, target, tmp_path):
    # As compose's backup service names the database (libpq's variables); restored as
    # Kalan names it (DATABASE_URL, SQLAlchemy's form).
    made = run("backup.sh", tmp_path / "b", **libpq(filled))
    assert made.returncode == 0, made.stderr
    [archive] = (tmp_path / "b").iterdir()
    assert archive.name.startswith("kalan-") and archive.suffix == ".dump"
    assert str(archive) in made.stdout
    # Phone numbers inside: its owner's alone.
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    url = target.replace("postgresql://", "postgresql+psycopg://")
    restored = run("restore.sh", archive, DATABASE_URL=url)
    assert restored.returncode == 0, restored.stderr
    assert "kalan db upgrade" in restored.stdout
    before, after = snapshot(filled), snapshot(target)
    assert after == before
    assert before["cases"] and before["contacts"] and before["outbox"] and before["users"]
    # Sequences came along: the next row takes the next id, not one already used.
    engine = make_engine(target)
    with engine.begin() as conn:
        conn.execute(insert(Contact).values(phone="+22370000124"))
        ids = conn.execute(text("SELECT id FROM contacts ORDER BY id")).scalars().all()
    engine.dispose()
    assert len(set(ids)) == len(ids) == len(before["contacts"]) + 1


def test_restore_replaces_a_database_only_when_asked_and_when_nobody_uses_it(
    filled, target, tmp_path
):
    assert run("backup.sh", tmp_path, DATABASE_URL=filled).returncode == 0
    [archive] = tmp_path.iterdir()
    # A newer release's database: one contact more, and a table the archive does not know.
    migrate(target)
    engine = make_engine(target)
    with engine.begin() as conn:
        conn.execute(insert(Contact).values(phone="+22370000999"))
        conn.execute(text("CREATE TABLE newer_release (id int)"))
    engine.dispose()
    untouched = snapshot(target)

    refused = run("restore.sh", archive, DATABASE_URL=target)
    assert refused.returncode == 1
    assert "already holds" in refused.stderr and "--replace" in refused.stderr
    assert snapshot(target) == untouched

    # Kalan still connected: refused, whatever --replace says.
    engine = make_engine(target)
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
        busy = run("restore.sh", "--replace", archive, DATABASE_URL=target)
    engine.dispose()
    assert busy.returncode == 1
    assert "other connection" in busy.stderr and "docker compose stop" in busy.stderr
    assert snapshot(target) == untouched

    replaced = run("restore.sh", "--replace", archive, DATABASE_URL=target)
    assert replaced.returncode == 0, replaced.stderr
    assert snapshot(target) == snapshot(filled)
    engine = make_engine(target)
    with engine.connect() as conn:
        left = conn.execute(text("SELECT to_regclass('public.newer_release')")).scalar()
    engine.dispose()
    assert left is None  # so that `kalan db upgrade` starts again from the archive's revision


def test_a_damaged_or_foreign_file_changes_nothing(filled, target, tmp_path):
    assert run("backup.sh", tmp_path / "b", DATABASE_URL=filled).returncode == 0
    [archive] = (tmp_path / "b").iterdir()
    migrate(target)
    untouched = snapshot(target)
    # Damaged inside its data, as a failing disk leaves it: only reading it all tells.
    bad = tmp_path / "bad.dump"
    bad.write_bytes(archive.read_bytes())
    damage(bad)
    broken = run("restore.sh", "--replace", bad, DATABASE_URL=target)
    assert broken.returncode == 1
    assert "does not read to its end; nothing was changed" in broken.stderr
    # Cut off, as a copy that ran out of disk would be.
    cut = tmp_path / "cut.dump"
    cut.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    assert run("restore.sh", "--replace", cut, DATABASE_URL=target).returncode != 0
    foreign = tmp_path / "notes.txt"
    foreign.write_text("pas une sauvegarde\n")
    wrong = run("restore.sh", "--replace", foreign, DATABASE_URL=target)
    assert wrong.returncode == 2 and "not an archive" in wrong.stderr
    missing = run("restore.sh", tmp_path / "none.dump", DATABASE_URL=target)
    assert missing.returncode == 2 and "no such readable file" in missing.stderr
    assert run("restore.sh", DATABASE_URL=target).returncode == 2  # usage
    assert snapshot(target) == untouched


def test_backup_keeps_the_newest_archives_and_nothing_else_goes(filled, tmp_path):
    old = ["kalan-20250101T020000Z.dump", "kalan-20250102T020000Z.dump",
           "kalan-20250103T020000Z.dump"]  # fmt: skip
    for name in [*old, "notes.txt", "kalan-copie.dump"]:
        (tmp_path / name).write_text("x")
    made = run("backup.sh", tmp_path, DATABASE_URL=filled, BACKUP_KEEP=2)
    assert made.returncode == 0, made.stderr
    names = backups(tmp_path)
    new = [n for n in names if n.startswith("kalan-2") and n not in old]
    assert len(new) == 1
    assert names == sorted(["kalan-20250103T020000Z.dump", *new, "notes.txt", "kalan-copie.dump"])
    assert made.stdout.count("removed") == 2


@pytest.mark.parametrize("keep", ["0", "two", "-1", "014"])
def test_a_bad_keep_count_is_refused_before_anything_is_written(postgres_url, tmp_path, keep):
    made = run("backup.sh", tmp_path / "b", DATABASE_URL=postgres_url, BACKUP_KEEP=keep)
    assert made.returncode == 2
    assert f"BACKUP_KEEP must be a whole number of 1 or more, not '{keep}'" in made.stderr
    assert not (tmp_path / "b").exists()


def test_a_failed_dump_leaves_no_archive(postgres_url, tmp_path):
    url = make_engine(postgres_url).url.set(database="kalan_no_such_database")
    made = run("backup.sh", tmp_path, DATABASE_URL=url.render_as_string(hide_password=False))
    assert made.returncode == 1
    assert "no backup was made" in made.stderr
    assert backups(tmp_path) == []


def test_the_database_must_be_postgresql_and_named(tmp_path):
    sqlite = run("backup.sh", tmp_path, DATABASE_URL="sqlite:///var/kalan.db")
    assert sqlite.returncode == 2 and "not a PostgreSQL URL (sqlite)" in sqlite.stderr
    unnamed = run("backup.sh", tmp_path)
    assert unnamed.returncode == 2 and "set DATABASE_URL, or PGDATABASE" in unnamed.stderr
    assert not os.listdir(tmp_path)


def pg_dump_then(tmp_path, then: str) -> str:
    """Return a PATH whose pg_dump runs the real one, then this shell line ($file: its file)."""
    tools = tmp_path / "bin"
    tools.mkdir()
    wrapper = tools / "pg_dump"
    wrapper.write_text(f"""#!/bin/sh
{shutil.which("pg_dump")} "$@" || exit
for arg; do case $arg in --file=*) file=${{arg#--file=}};; esac; done
{then}
""")
    wrapper.chmod(0o755)
    return f"{tools}:{os.environ['PATH']}"


def test_an_archive_that_does_not_read_back_is_no_backup(filled, tmp_path):
    """A pg_dump whose file comes out damaged (a failing disk): the script reads it back."""
    path = pg_dump_then(tmp_path, f'{sys.executable} -c "{DAMAGE}" "$file"')
    made = run("backup.sh", tmp_path / "b", DATABASE_URL=filled, PATH=path)
    assert made.returncode == 1
    assert "does not read back; no backup was made" in made.stderr
    assert backups(tmp_path / "b") == []


def test_a_backup_cut_off_never_looks_whole(filled, tmp_path):
    """Killed before it checked its archive (a reboot, an out-of-memory kill)."""
    path = pg_dump_then(tmp_path, "kill -KILL $PPID")
    made = run("backup.sh", tmp_path / "b", DATABASE_URL=filled, PATH=path)
    assert made.returncode == -9
    [left] = backups(tmp_path / "b")
    assert left.endswith(".dump.partial")
    # The next one is whole; the leftover counts for nothing.
    again = run("backup.sh", tmp_path / "b", DATABASE_URL=filled, BACKUP_KEEP=1)
    assert again.returncode == 0, again.stderr
    [whole] = [n for n in backups(tmp_path / "b") if n.endswith(".dump")]
    assert subprocess.run(["pg_restore", "--list", tmp_path / "b" / whole]).returncode == 0


def test_a_restore_that_fails_half_way_changes_nothing(filled, target, tmp_path):
    """Refused at its third table by a guard of the server's: the two before it go too."""
    assert run("backup.sh", tmp_path, DATABASE_URL=filled).returncode == 0
    [archive] = tmp_path.iterdir()
    migrate(target)
    untouched = snapshot(target)
    engine = make_engine(target)
    guard = """
        CREATE SCHEMA guard;
        CREATE FUNCTION guard.refuse() RETURNS event_trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF (SELECT count(*) FROM pg_tables WHERE schemaname = 'public') >= 2 THEN
            RAISE EXCEPTION 'the disk is full';
          END IF;
        END $$;
        CREATE EVENT TRIGGER refuse ON ddl_command_end WHEN TAG IN ('CREATE TABLE')
          EXECUTE FUNCTION guard.refuse();
    """
    with engine.begin() as conn:
        conn.execute(text(guard))
    engine.dispose()  # nothing else connected, or restore.sh refuses
    try:
        failed = run("restore.sh", "--replace", archive, DATABASE_URL=target)
    finally:
        with engine.begin() as conn:
            conn.execute(text("DROP EVENT TRIGGER refuse; DROP SCHEMA guard CASCADE"))
        engine.dispose()
    assert failed.returncode == 1
    assert "the disk is full" in failed.stderr
    assert "the restore failed and was rolled back; nothing was changed" in failed.stderr
    assert snapshot(target) == untouched
