"""The image: its Dockerfile, what it leaves out, and what its containers run.

Without a container engine, the entry point and the health check run here as the image
runs them; with one, the image is built too.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest
import requests
from redis import Redis

from app.infra.config import ROOT

from .conftest import DEPLOY, GRACE_S, IDLE_STOP_S

DOCKERFILE = (ROOT / "Dockerfile").read_text()
BIN = Path(sys.executable).parent  # the image puts its virtualenv's bin first on PATH too


def instruction(name: str) -> list[str]:
    """Return the arguments of each Dockerfile instruction of that name, lines joined."""
    joined = DOCKERFILE.replace("\\\n", " ")
    return [m.group(1).strip() for m in re.finditer(rf"^{name} (.+)$", joined, re.MULTILINE)]


def test_the_image_runs_as_a_user_without_privileges():
    [user] = instruction("USER")
    uid, _, gid = user.partition(":")
    assert int(uid) >= 1000 and int(gid) >= 1000
    # Set last: the installation before it runs as root, the service never does.
    assert DOCKERFILE.index(f"\nUSER {user}\n") > DOCKERFILE.rindex("\nRUN ")


def test_the_image_installs_exactly_what_the_lock_pins():
    [tools, install, kalan] = instruction("RUN")
    assert "apt-get install -y --no-install-recommends espeak-ng sox" in tools
    assert "pip install --quiet --require-hashes --no-deps -r requirements.lock" in install
    # The same pip as `make install`.
    pip = re.search(r"^PIP_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert f"'pip=={pip.group(1)}'" in install
    assert "pip install --quiet --no-deps --no-build-isolation -e ." in kalan
    assert "kalan audio build --lang fr" in kalan  # the calls' prompts, made in the image
    assert instruction("FROM") == ["python:3.11-slim-bookworm"]


def test_the_image_checks_its_health_and_runs_the_procfile():
    [check] = instruction("HEALTHCHECK")
    assert check.endswith('CMD ["python", "/app/deploy/healthcheck.py"]')
    assert instruction("ENTRYPOINT") == ['["/app/deploy/entrypoint.sh"]']
    assert instruction("CMD") == ['["web"]']
    [env] = instruction("ENV")
    assert "APP_ENV=production" in env
    # The user's home does not exist and the file system is read-only (compose.yaml).
    assert "XDG_RUNTIME_DIR=/tmp" in env


def test_secrets_data_and_backups_stay_out_of_the_image():
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    for path in (".env", ".env.*", "var/", "backups/", ".git/", ".venv/"):
        assert path in ignored
    # config.py reads .env.example to refuse its values as secrets.
    assert ignored.index("!.env.example") > ignored.index(".env.*")


def engine() -> str | None:
    """Return a container engine's command that answers, or None."""
    for command in ("docker", "podman"):
        found = shutil.which(command)
        if found and subprocess.run([found, "info"], capture_output=True).returncode == 0:
            return found
    return None


@pytest.mark.skipif(engine() is None, reason="needs a container engine (docker or podman)")
def test_the_image_builds_and_runs_kalan_as_its_user():
    tag = f"kalan-test:{uuid.uuid4().hex[:12]}"
    command = engine()
    built = subprocess.run([command, "build", "--tag", tag, str(ROOT)], capture_output=True,
                           text=True, timeout=1800)  # fmt: skip
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    try:
        who = subprocess.run([command, "run", "--rm", tag, "id", "-u"], capture_output=True,
                             text=True, timeout=120)  # fmt: skip
        assert who.stdout.strip() == "10001"
        help_ = subprocess.run([command, "run", "--rm", tag, "kalan", "--help"],
                               capture_output=True, text=True, timeout=120)  # fmt: skip
        assert help_.returncode == 0 and "db" in help_.stdout
    finally:
        subprocess.run([command, "rmi", "--force", tag], capture_output=True, timeout=120)


# -- what a container runs: deploy/entrypoint.sh and deploy/healthcheck.py --------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def container_env(app, tmp_path, **variables) -> dict:
    """The environment a container of the image gets, on the test's servers.

    Its user has no home: what needs a place of its own gets /tmp (XDG_RUNTIME_DIR), here
    a folder of the test's.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AT_", "SMS_"))}
    env.update(PATH=f"{BIN}:{os.environ['PATH']}", APP_ENV="development",
               HOME="/nonexistent", XDG_RUNTIME_DIR=str(tmp_path),
               DATABASE_URL=app.config["DATABASE_URL"], REDIS_URL=app.config["REDIS_URL"],
               REDIS_PREFIX=app.config["REDIS_PREFIX"])  # fmt: skip
    env.update(variables)
    return env


def start(process: str, env: dict) -> subprocess.Popen:
    """Start the image's entry point with one argument, as a container does."""
    # A session of its own: whatever it leaves behind can be ended with it.
    return subprocess.Popen(
        [str(DEPLOY / "entrypoint.sh"), process],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip


def stop(child: subprocess.Popen) -> str:
    """Send SIGTERM, as `docker stop` does; return what it printed. It must exit by itself."""
    child.send_signal(signal.SIGTERM)
    try:
        output, _ = child.communicate(timeout=GRACE_S)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        pytest.fail(f"still running {GRACE_S} s after SIGTERM:\n{child.communicate()[0][-3000:]}")
    return output


def until(predicate, timeout: float = 30.0):
    """Poll until predicate() returns something true; return it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := predicate():
            return found
        time.sleep(0.1)
    raise AssertionError("timed out")


def healthcheck(port: int) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(DEPLOY / "healthcheck.py")], capture_output=True,
                          text=True, env={**os.environ, "PORT": str(port)}, timeout=30)  # fmt: skip


def test_web_runs_the_procfiles_gunicorn_answers_the_health_check_and_stops_cleanly(app, tmp_path):
    port = free_port()
    web = start("web", container_env(app, tmp_path, PORT=str(port), WEB_CONCURRENCY="1"))
    try:

        def healthy():
            try:
                return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).ok
            except requests.ConnectionError:
                return web.poll() is not None and pytest.fail(web.stdout.read())

        until(healthy)
        # Exec all the way down: the container's first process is gunicorn itself, so
        # `docker stop` reaches it.
        assert "gunicorn -c python:app.web.gunicorn_conf" in " ".join(
            psutil.Process(web.pid).cmdline()
        )
        checked = healthcheck(port)
        assert checked.returncode == 0, checked.stdout
    finally:
        output = stop(web)
    assert web.returncode == 0, output
    assert "Shutting down" in output
    # Not even gunicorn's control socket failed for want of a home.
    assert "[ERROR]" not in output
    gone = healthcheck(port)
    assert gone.returncode == 1 and "Connection refused" in gone.stdout


def test_the_health_check_fails_and_says_why_when_redis_is_down(make_app):
    from tests.conftest import serve

    down = make_app(REDIS_URL="redis://127.0.0.1:1/0")
    with serve(down) as url:
        checked = healthcheck(int(url.rsplit(":", 1)[1]))
    assert checked.returncode == 1
    assert "503" in checked.stdout and '"failing":["redis"]' in checked.stdout


def test_release_migrates_the_database(app, tmp_path):
    url = f"sqlite:///{tmp_path / 'kalan.db'}"
    release = start("release", container_env(app, tmp_path, DATABASE_URL=url))
    output, _ = release.communicate(timeout=120)
    assert release.returncode == 0, output
    assert re.search(r"database at revision \w+", output)


def test_clock_and_worker_tick_together(app, tmp_path):
    """The clock queues the tick, the worker runs it: both as the image starts them."""
    env = container_env(app, tmp_path, SMS_TICK_S="1")
    redis = Redis.from_url(app.config["REDIS_URL"])
    last = app.config["REDIS_PREFIX"] + "tick:last"
    clock = start("clock", env)
    worker = start("worker", env)
    try:
        # Each is its container's first process itself, once the entry point has exec'd.
        for child, name in ((clock, "workers.clock"), (worker, "workers")):
            until(lambda: psutil.Process(child.pid).cmdline()[-2:] == ["-m", name])  # noqa: B023

        def ran():
            tick = redis.get(last)
            job = tick and app.extensions["queue"].fetch_job(tick.decode())
            return job is not None and job and job.get_status() == "finished"

        until(ran)
    finally:
        outputs = [stop(clock)]
        stopping = time.monotonic()
        outputs.append(stop(worker))
        stopped_s = time.monotonic() - stopping
        redis.close()
    assert clock.returncode in (0, -signal.SIGTERM), outputs[0]
    assert worker.returncode == 0, outputs[1]
    assert stopped_s < IDLE_STOP_S  # not a minute waiting on RQ's listener


def test_any_other_command_runs_as_given(app, tmp_path):
    for args, expected in ((["kalan", "--help"], "Kalan: USSD/SMS"),
                           (["sh", "-c", "echo $0", "web"], "web"),
                           (["/bin/pwd"], str(ROOT)),
                           (["webs"], "not found")):  # fmt: skip
        ran = subprocess.run([str(DEPLOY / "entrypoint.sh"), *args], cwd=ROOT,
                             env=container_env(app, tmp_path), capture_output=True, text=True,
                             timeout=60)  # fmt: skip
        assert expected in ran.stdout + ran.stderr
