"""The `kalan` command line."""

from click.testing import CliRunner
from sqlalchemy import inspect

from app.cli import main
from app.db import make_engine
from app.models import Contact


def test_db_upgrade_creates_the_schema(tmp_path, monkeypatch, redis_url):
    url = f"sqlite:///{tmp_path / 'new.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "database at revision 0002" in result.output
    engine = make_engine(url)
    tables = set(inspect(engine).get_table_names())
    assert {"contacts", "ussd_events", "outbox", "campaigns", "alembic_version"} <= tables
    again = CliRunner().invoke(main, ["db", "upgrade"])  # idempotent
    assert again.exit_code == 0
    engine.dispose()


def test_seed_adds_demo_contacts_once(app, runner):
    first = runner.invoke(args=["seed"])
    assert first.exit_code == 0, first.output
    with app.extensions["db"]() as db:
        count = db.query(Contact).count()
        roles = {c.role for c in db.query(Contact)}
        agent = db.query(Contact).filter_by(phone="+22370000001").one()
    assert count >= 5
    assert {"agent", "community", "focal_point"} <= roles
    assert agent.organisation and agent.language == "fr"
    second = runner.invoke(args=["seed"])
    assert "0 contact(s) added" in second.output


def test_dial_walks_the_menus_over_real_http(app, live_server, monkeypatch):
    monkeypatch.setenv("KALAN_URL", live_server)
    inputs = ["--input", "1", "--input", "4", "--input", "5", "--input", "99"]
    result = CliRunner().invoke(main, ["dial", "+22370000077", *inputs])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Bienvenue sur Kalan" in out
    assert "Kalan - Menu principal" in out
    assert "Mon compte / Aide" in out
    assert "artisanales" in out
    assert "Vous avez raccroché." in out


def test_dial_interactive_hangs_up_on_q(app, live_server, monkeypatch):
    monkeypatch.setenv("KALAN_URL", live_server)
    result = CliRunner().invoke(main, ["dial", "70000078"], input="1\n4\nq\n")
    assert result.exit_code == 0, result.output
    assert "Appel du *123# depuis le +22370000078" in result.output
    assert "Mon compte / Aide" in result.output


def test_dial_refuses_a_bad_number():
    result = CliRunner().invoke(main, ["dial", "hello"])
    assert result.exit_code == 2
    assert "Numéro invalide" in result.output


def test_dial_reports_a_server_that_is_down(monkeypatch):
    monkeypatch.setenv("KALAN_URL", "http://127.0.0.1:1")
    result = CliRunner().invoke(main, ["dial", "+22370000001"])
    assert result.exit_code == 1
    assert "La session a échoué" in result.output


def test_content_check_reads_settings_like_the_app(monkeypatch):
    monkeypatch.setenv("USSD_MAX_CHARS", "")  # empty means the default, as in the app
    result = CliRunner().invoke(main, ["content", "check"])
    assert result.exit_code == 0, result.output
    assert "screens fit 160" in result.output
    monkeypatch.setenv("USSD_MAX_CHARS", "60")
    result = CliRunner().invoke(main, ["content", "check"])
    assert result.exit_code == 2
    assert "USSD_MAX_CHARS must be at least 80" in result.output
