"""The `kalan` command line."""

import tomllib
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from sqlalchemy import inspect, select

from app.cases import alerts
from app.cli import main
from app.cli.group import environment
from app.infra import dev_env
from app.infra.config import ROOT
from app.infra.db import make_engine
from app.infra.migrate import SCRIPTS
from app.infra.models import Contact, Message, UssdEvent, utcnow
from app.messaging.window import next_open

from .conftest import Runner
from .helpers import ANONYMOUS, CALM, report


def test_db_upgrade_creates_the_schema(tmp_path, monkeypatch, redis_url):
    url = f"sqlite:///{tmp_path / 'new.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    head = ScriptDirectory(str(SCRIPTS)).get_current_head()
    assert f"database at revision {head}" in result.output
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
    assert "3 focal point(s) added" in first.output
    assert runner.invoke(["focal-points", "list"]).output.splitlines() == [
        "+22366000001    agent       region:sikasso",
        "+22366000002    agent       region:koutiala",
        "+22366000003    supervisor  all",
    ]
    second = runner.invoke(args=["seed"])
    assert "0 contact(s) and 0 focal point(s) added" in second.output


def test_dial_walks_the_menus_over_real_http(app, live_server, monkeypatch):
    monkeypatch.setenv("KALAN_URL", live_server)
    inputs = ["--input", "5", "--input", "5", "--input", "99"]
    result = CliRunner().invoke(main, ["dial", "+22370000077", *inputs])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Kalan - Menu principal" in out  # a new caller, one language: no choice to make
    assert "Mon compte / Aide" in out
    assert "artisanales" in out
    assert "Vous avez raccroché." in out


def test_dial_interactive_hangs_up_on_q(app, live_server, monkeypatch):
    monkeypatch.setenv("KALAN_URL", live_server)
    result = CliRunner().invoke(main, ["dial", "70000078"], input="5\nq\n")
    assert result.exit_code == 0, result.output
    assert "Appel du *123# depuis le +22370000078" in result.output
    assert "Mon compte / Aide" in result.output


def test_dial_refuses_a_bad_number():
    result = CliRunner().invoke(main, ["dial", "hello"])
    assert result.exit_code == 2
    assert "Numéro invalide" in result.output


def test_dial_without_a_server_says_to_start_make_run(monkeypatch):
    monkeypatch.setenv("KALAN_URL", "http://127.0.0.1:1")
    result = CliRunner().invoke(main, ["dial", "+22370000001"])
    assert result.exit_code == 1
    assert result.output == (
        "Kalan ne répond pas sur http://127.0.0.1:1 : lancez d'abord make run dans un autre "
        "terminal.\n"
    )


def test_dial_scripted_q_hangs_up(app, live_server, monkeypatch):
    monkeypatch.setenv("KALAN_URL", live_server)
    result = CliRunner().invoke(main, ["dial", "70000079", "--input", "5", "--input", "q"])
    assert result.exit_code == 0, result.output
    assert result.output.endswith("> q\nVous avez raccroché.\n")
    with app.extensions["db"]() as db:  # q was never sent as an answer: the call was left
        event = db.execute(select(UssdEvent.status, UssdEvent.last_node)).one()
    assert tuple(event) == ("Incomplete", "account")


def test_version_is_kalans_from_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"kalan {project['version']}\n"


def test_help_shows_kalans_options_not_flasks():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "--version  Show the version and exit." in result.output
    for flasks in ("-e, --env-file", "-A, --app", "--debug", "Flask"):
        assert flasks not in result.output


def test_dotenv_is_still_read(tmp_path, monkeypatch):
    """Flask's --env-file option used to read .env; the shell still wins over it."""
    (tmp_path / ".env").write_text("USSD_MAX_CHARS=60\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("USSD_MAX_CHARS", "")
    monkeypatch.delenv("USSD_MAX_CHARS")  # recorded: whatever .env sets is undone after
    result = CliRunner().invoke(main, ["content", "check"])
    assert result.exit_code == 2 and "USSD_MAX_CHARS must be at least 80" in result.output
    monkeypatch.setenv("USSD_MAX_CHARS", "160")
    assert CliRunner().invoke(main, ["content", "check"]).exit_code == 0


def test_content_check_reads_settings_like_the_app(monkeypatch):
    monkeypatch.setenv("USSD_MAX_CHARS", "")  # empty means the default, as in the app
    result = CliRunner().invoke(main, ["content", "check"])
    assert result.exit_code == 0, result.output
    assert "screens fit 160" in result.output
    monkeypatch.setenv("USSD_MAX_CHARS", "60")
    result = CliRunner().invoke(main, ["content", "check"])
    assert result.exit_code == 2
    assert "USSD_MAX_CHARS must be at least 80" in result.output


def seed_agents(app, count=3):
    from app.infra.models import utcnow

    with app.extensions["db"]() as db:
        for n in range(count):
            db.add(Contact(phone=f"+2237000070{n}", role="agent", name=f"Agent {n}",
                           language="fr", cercle="Sikasso", created_at=utcnow()))  # fmt: skip
        db.add(Contact(phone="+22376000700", role="community", language="fr", created_at=utcnow()))
        db.commit()


def test_campaign_create_previews_then_creates(app, runner):
    from app.infra.models import Campaign

    seed_agents(app)
    args = ["campaign", "create", "--name", "Rentrée", "--message", "Bonjour {name}"]
    args += ["--message-en", "Hello {name}", "--audience", "role=agent", "--rate", "5", "--yes"]
    result = runner.invoke(args)
    assert result.exit_code == 0, result.output
    assert "recipients: 3" in result.output
    assert "parts per message: fr: 1 (GSM-7)" in result.output
    assert "estimated cost: XOF 75.00" in result.output
    assert "campaign 1 created" in result.output
    with app.extensions["db"]() as db:
        campaign = db.query(Campaign).one()
    assert campaign.rate == 5 and '"en": "Hello {name}"' in campaign.messages


def test_campaign_create_asks_before_creating(app, runner):
    from app.infra.models import Campaign

    seed_agents(app)
    args = ["campaign", "create", "--name", "X", "--message", "Bonjour", "--audience", "role=agent"]
    result = runner.invoke(args, input="n\n")
    assert result.exit_code == 1 and "nothing created" in result.output
    with app.extensions["db"]() as db:
        assert db.query(Campaign).count() == 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--audience", "colour=blue"], "unknown audience key 'colour'"),
        (["--audience", "role"], "audience must be KEY=VALUE"),
        (["--at", "tomorrow"], "Invalid isoformat string"),
        (["--budget", "lots"], "Error"),
        (["--message-en"], "--message-en needs a text"),
        (["--colour", "blue"], "unknown option '--colour'"),
    ],
)
def test_campaign_create_refuses_bad_options(runner, extra, message):
    result = runner.invoke(["campaign", "create", "--name", "X", "--message", "Y", *extra])
    assert result.exit_code == 2
    assert message in result.output


def test_campaign_lifecycle_commands(app, runner):
    seed_agents(app)
    runner.invoke(["campaign", "create", "--name", "C", "--message", "Bonjour", "--yes"])
    assert "1  scheduled" in runner.invoke(["campaign", "list"]).output
    assert runner.invoke(["campaign", "pause", "1"]).output == "campaign 1 is paused\n"
    again = runner.invoke(["campaign", "pause", "1"])
    assert again.exit_code == 1 and "is paused: cannot pause" in again.output
    assert runner.invoke(["campaign", "resume", "1"]).output == "campaign 1 is scheduled\n"
    shown = runner.invoke(["campaign", "show", "1", "--no-follow"])
    assert "campaign 1: C" in shown.output
    assert "  0%  scheduled" in shown.output  # nothing expanded yet: not "100%"
    assert runner.invoke(["campaign", "cancel", "1"]).output == "campaign 1 is cancelled\n"
    missing = runner.invoke(["campaign", "show", "9"])
    assert missing.exit_code == 1 and "no campaign 9" in missing.output


@pytest.mark.parametrize("budget", ["NaN", "-5", "0", "1e30", "lots"])
def test_campaign_budget_must_be_a_sane_amount(runner, budget):
    args = ["campaign", "create", "--name", "X", "--message", "Y", "--budget", budget, "--yes"]
    result = runner.invoke(args)
    assert result.exit_code == 2
    assert "budget must be" in result.output


def test_campaign_create_with_redis_down_says_so_once(make_app):
    from app.infra.models import Campaign

    app = make_app(REDIS_URL="redis://127.0.0.1:1/0")
    seed_agents(app)
    result = Runner(app).invoke(["campaign", "create", "--name", "X", "--message", "Y", "--yes"])
    assert result.exit_code == 0, result.output
    assert "Redis did not answer" in result.output and "do not create it again" in result.output
    with app.extensions["db"]() as db:
        assert db.query(Campaign).count() == 1


def test_seed_refuses_production(make_app):
    from .conftest import Runner

    app = make_app(APP_ENV="production", SECRET_KEY="s3cret", WEBHOOK_TOKEN="t")
    result = Runner(app).invoke(["seed"])
    assert result.exit_code == 2 and "development only" in result.output
    with app.extensions["db"]() as db:
        assert db.query(Contact).count() == 0


def closed_window() -> str:
    """Return a send window of one hour that opens five to six hours from now, Bamako time."""
    hour = datetime.now(ZoneInfo("Africa/Bamako")).hour
    return f"{(hour + 6) % 24:02d}:00-{(hour + 7) % 24:02d}:00"


def test_a_command_beside_make_run_uses_its_settings(
    app, client, redis_url, database_url, tmp_path, monkeypatch
):
    """`kalan case assign` in a second terminal takes make run's database, Redis and send
    window from the var/dev.env make run wrote, not the defaults: the worker and it agree."""
    _, done = report(client, *CALM, contact=ANONYMOUS)
    reference = done.split("Référence : ")[1][:6]
    for name in ("DATABASE_URL", "REDIS_URL", "SMS_SEND_WINDOW"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VAR_DIR", str(tmp_path))
    monkeypatch.setenv("REDIS_PREFIX", app.config["REDIS_PREFIX"])  # the test's, cleaned after
    shared = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SMS_SEND_WINDOW": closed_window(),
    }
    dev_env.write({"VAR_DIR": str(tmp_path), **shared})
    result = CliRunner().invoke(main, ["case", "assign", reference, "70000001"])
    assert result.exit_code == 0, result.output
    with app.extensions["db"]() as db:
        sms = db.scalars(select(Message).where(Message.kind == alerts.ASSIGNED)).one()
    assert sms.not_before == next_open(shared["SMS_SEND_WINDOW"], utcnow(), "Africa/Bamako")


def test_the_shell_wins_and_production_never_reads_make_runs_settings(tmp_path, monkeypatch):
    dev_env.write({"VAR_DIR": str(tmp_path), "SMS_SEND_WINDOW": "always", "ORG_CODES": "A=1"})
    monkeypatch.setenv("VAR_DIR", str(tmp_path))
    monkeypatch.delenv("APP_ENV", raising=False)
    monkeypatch.delenv("ORG_CODES", raising=False)
    monkeypatch.setenv("SMS_SEND_WINDOW", "07:00-19:00")  # set in the shell, or in .env
    env = environment()
    assert (env["SMS_SEND_WINDOW"], env["ORG_CODES"]) == ("07:00-19:00", "A=1")
    monkeypatch.setenv("APP_ENV", "production")
    assert "ORG_CODES" not in environment()
