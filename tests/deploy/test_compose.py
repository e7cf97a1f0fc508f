"""compose.yaml: valid for Compose, and what the README asks of production."""

import re
import subprocess
import sys

import pytest
import yaml

from app.infra.config import DEFAULTS, REQUIRED_IN_PRODUCTION, ROOT

from .conftest import GRACE_S

COMPOSE = ROOT / "compose.yaml"
APP = ("migrate", "web", "worker", "clock")  # the services that run Kalan's image
RECORDINGS_DIR = DEFAULTS["RECORDINGS_DIR"]
REQUIRED = re.compile(r"^\$\{(\w+):\?[^}]+\}$")  # compose refuses to start without it


def check(path) -> subprocess.CompletedProcess:
    """Check a file against the Compose specification's schema, with no container engine."""
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
         str(path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest.fixture(scope="module")
def compose() -> dict:
    """compose.yaml as Compose reads it, anchors and merge keys resolved."""
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def procfile() -> dict[str, str]:
    """Return the Procfile's processes: name to command."""
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


def test_it_follows_the_compose_specification():
    result = check(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_check_refuses_what_compose_would(tmp_path):
    """The check itself: a misspelt key and an unknown condition are caught."""
    text = COMPOSE.read_text()
    for wrong in (text.replace("depends_on: *ready", "depend_on: *ready"),
                  text.replace("service_completed_successfully", "service_done")):  # fmt: skip
        assert wrong != text
        path = tmp_path / "compose.yaml"
        path.write_text(wrong)
        result = check(path)
        assert result.returncode == 1 and "Schema validation errors" in result.stdout


def test_up_runs_every_process_of_the_procfile_after_the_migrations(services):
    started = {name for name, s in services.items() if not s.get("profiles")}
    assert started == {"postgres", "redis", *APP}
    # Each runs one line of the Procfile (deploy/entrypoint.sh), and every line is run.
    runs = {name: services[name]["command"] for name in APP}
    assert runs == {"migrate": ["release"], "web": ["web"], "worker": ["worker"],
                    "clock": ["clock"]}  # fmt: skip
    assert set(procfile()) == {command for [command] in runs.values()}
    assert procfile()["release"] == "kalan db upgrade"
    for name in APP:
        assert services[name]["build"] == "." and services[name]["image"] == "kalan:local"
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert services["migrate"]["restart"] == "no"
    for name in ("web", "worker", "clock"):
        assert services[name]["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
            "migrate": {"condition": "service_completed_successfully"},
        }
        assert services[name]["restart"] == "unless-stopped"
    # The image's health check asks web's /healthz: the others have none to answer it.
    assert "healthcheck" not in services["web"]
    for name in ("migrate", "worker", "clock"):
        assert services[name]["healthcheck"] == {"disable": True}
    for name in ("postgres", "redis"):
        assert services[name]["healthcheck"]["test"][0] == "CMD"


def test_postgresql_keeps_its_data_and_redis_keeps_nothing(compose, services):
    assert "pgdata:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert "pgdata" in compose["volumes"]
    # README, Security: no snapshot and no append-only file beside the day's salt.
    command = services["redis"]["command"]
    assert command[command.index("--save") + 1] == ""
    assert command[command.index("--appendonly") + 1] == "no"
    # Queues must never be evicted to make room.
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"
    assert "volumes" not in services["redis"]


def test_web_plays_the_recordings_the_worker_keeps(compose, services):
    """The one folder Kalan writes to, on a read-only file system: a volume both share,
    where the image makes a folder its user owns (Docker gives a new volume its owner)."""
    for name in ("web", "worker"):
        assert services[name]["volumes"] == ["recordings:/app/var/recordings"]
    assert "volumes" not in services["clock"] and "volumes" not in services["migrate"]
    assert "recordings" in compose["volumes"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "install -d -o 10001 -g 10001 -m 0700 /app/var/recordings" in dockerfile
    assert RECORDINGS_DIR == str(ROOT / "var" / "recordings")  # /app/var/recordings there


def test_only_the_proxy_faces_the_network(services):
    published = {name: s["ports"] for name, s in services.items() if s.get("ports")}
    assert published == {
        "web": ["127.0.0.1:${WEB_PORT:-5000}:5000"],
        "caddy": ["80:80", "443:443", "443:443/udp"],
    }
    assert services["caddy"]["profiles"] == ["https"]
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in services["caddy"]["volumes"]
    # web trusts X-Forwarded-For from one proxy, as reachable only from this server.
    assert services["web"]["environment"]["PROXY_HOPS"] == "${PROXY_HOPS:-1}"


def test_kalan_runs_in_production_with_every_required_setting(services):
    for name in APP:
        environment = services[name]["environment"]
        assert environment["APP_ENV"] == "production"
        assert services[name]["env_file"] == ".env"
        for variable in REQUIRED_IN_PRODUCTION:
            value = environment[variable]
            # Compose sets the servers' addresses; the rest must come from .env.
            if variable in ("DATABASE_URL", "REDIS_URL"):
                assert "@postgres:5432/kalan" in value or value == "redis://redis:6379/0"
            else:
                assert REQUIRED.match(value).group(1) == variable
        assert "${POSTGRES_PASSWORD:?" in environment["DATABASE_URL"]


def test_kalan_containers_are_locked_down(services):
    for name in APP:
        service = services[name]
        assert service["read_only"] is True and service["tmpfs"] == ["/tmp"]
        assert service["cap_drop"] == ["ALL"]
        assert service["security_opt"] == ["no-new-privileges:true"]
        assert service["init"] is True


def test_backups_use_the_servers_own_postgresql_tools(services):
    backup = services["backup"]
    # pg_dump refuses a server newer than itself: the same image as the server.
    assert backup["image"] == services["postgres"]["image"]
    assert backup["profiles"] == ["tools"] and backup["restart"] == "no"
    assert backup["command"] == ["/deploy/backup.sh", "/backups"]
    assert backup["volumes"] == ["./deploy:/deploy:ro", "${BACKUP_DIR:-./backups}:/backups"]
    assert backup["environment"]["PGHOST"] == "postgres"
    assert REQUIRED.match(backup["environment"]["PGPASSWORD"]).group(1) == "POSTGRES_PASSWORD"


def test_the_worker_is_given_time_to_finish_its_job(services):
    assert services["worker"]["stop_grace_period"] == f"{GRACE_S}s"


def test_every_log_is_rotated(services):
    for name, service in services.items():
        assert service["logging"]["options"]["max-size"], name
