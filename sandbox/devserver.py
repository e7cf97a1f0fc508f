"""`make run`: Redis, migrations, demo data, then web, worker, clock and sandbox until Ctrl-C."""

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import requests
from dotenv import dotenv_values

from app.infra import dev_env
from app.infra.config import ROOT, VAR
from sandbox.embedded import EmbeddedRedis, free_port, server_version

DEMO_ORG_CODES = "RMCR=1111,CAEB=2222,CMDT=3333,CPC=4444,Alphalog=5555,CRK=6666"
DEMO_CALLBACK_NUMBER = "+22320000002"  # a missed call to it is called back, by the sandbox
# What the sandbox's emulations of Orange and Infobip accept (sandbox/__init__.py).
SANDBOX_ORANGE = (
    ("ORANGE_CLIENT_ID", "sandbox-client"),
    ("ORANGE_CLIENT_SECRET", "sandbox-secret"),
    ("ORANGE_SENDER", "+22344000000"),
)
SANDBOX_INFOBIP = (("INFOBIP_API_KEY", "sandbox-key"), ("INFOBIP_SENDER", "Kalan"))
REDIS_PORT = 6390  # not 6379, so a system Redis and `make run` never share data
# Hides the webhook token from the access and error logs.
GUNICORN_CONF = "python:app.web.gunicorn_conf"


def _children(env: dict) -> dict[str, list[str]]:
    """Return the command line of each long-running process."""
    py = sys.executable
    return {
        "web": [
            py, "-m", "gunicorn", "-c", GUNICORN_CONF, "--bind", f"127.0.0.1:{env['PORT']}",
            "--workers", "2", "--timeout", "9", "--access-logfile", "-", "--no-control-socket",
            "--access-logformat", '%(h)s "%(r)s" %(s)s %(M)sms', "app:create_app()",
        ],
        "worker": [py, "-m", "workers"],
        "clock": [py, "-m", "workers.clock"],  # queues the worker's periodic tick
        "sandbox": [
            # One process: the simulator keeps live calls in memory.
            py, "-m", "gunicorn", "-c", GUNICORN_CONF,
            "--bind", f"127.0.0.1:{env['SANDBOX_PORT']}",
            "--workers", "1", "--threads", "8", "--timeout", "30", "--no-control-socket",
            "sandbox:create_app()",
        ],
    }  # fmt: skip


def private_var(var: Path) -> Path:
    """Make var readable by this user only, now and for all that is written to it later."""
    # The SQLite file, Redis data and logs hold phone numbers and reports. The
    # umask covers every child too: migrations, Redis, gunicorn, the worker.
    os.umask(0o077)
    var.mkdir(mode=0o700, parents=True, exist_ok=True)
    # What an earlier run or a test left readable to others; links are not ours to follow.
    for top, _dirs, files in os.walk(var):
        for path in (Path(top), *(Path(top, name) for name in files)):
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode) or info.st_uid != os.getuid():
                continue
            mode = 0o700 if stat.S_ISDIR(info.st_mode) else 0o600
            if info.st_mode & 0o777 != mode:
                path.chmod(mode)
    return var


def _prepare(env: dict) -> None:
    """Migrate the database, check the content and seed the demo data."""
    for step in (["db", "upgrade"], ["content", "check"], ["seed"]):
        subprocess.run([sys.executable, "-m", "app.cli", *step], env=env, check=True)


def _wait_healthy(url: str, procs: dict, timeout_s: float = 30.0) -> bool:
    """Poll url until it answers 200; False if a child dies or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs.values()):
            return False
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.2)
    return False


def _stop(procs: dict) -> None:
    """Ask every child to stop, then force the ones that linger."""
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    for proc in procs.values():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def serve() -> int:
    """Run everything in the foreground; return the exit status."""
    # Settings in .env apply unless the shell already sets them.
    env = {**dotenv_values(ROOT / ".env"), **os.environ}
    env = {name: value for name, value in env.items() if value is not None}
    var = private_var(Path(env.get("VAR_DIR") or VAR))
    env["PORT"] = env.get("PORT") or "5000"
    env["SANDBOX_PORT"] = env.get("SANDBOX_PORT") or "5001"
    env["DATABASE_URL"] = env.get("DATABASE_URL") or f"sqlite:///{var / 'kalan.db'}"
    # Reports' recordings too: the worker fetches them from the sandbox and keeps them here.
    env["RECORDINGS_DIR"] = env.get("RECORDINGS_DIR") or str(var / "recordings")
    env["KALAN_URL"] = f"http://127.0.0.1:{env['PORT']}"
    # The sandbox stands in for Africa's Talking: SMS go to it, never out.
    env["AT_API_BASE_URL"] = env.get("AT_API_BASE_URL") or (
        f"http://127.0.0.1:{env['SANDBOX_PORT']}"
    )
    # Orange and Infobip are emulated by the same sandbox: SMS_PROVIDER=orange (or
    # infobip) or SMS_ROUTES then needs no other setting. The credentials are the
    # sandbox's own, no secret; Infobip posts its reports to PUBLIC_URL.
    sandbox_url = f"http://127.0.0.1:{env['SANDBOX_PORT']}"
    for name, value in (("ORANGE_API_BASE_URL", sandbox_url), *SANDBOX_ORANGE,
                        ("INFOBIP_BASE_URL", sandbox_url), *SANDBOX_INFOBIP,
                        ("PUBLIC_URL", env["KALAN_URL"])):  # fmt: skip
        env[name] = env.get(name) or value
    # The sandbox's phones text Kalan's Orange number, as they would in Mali.
    env["SANDBOX_ORANGE_NUMBER"] = env.get("SANDBOX_ORANGE_NUMBER") or env["ORANGE_SENDER"]
    # A sandbox sends nothing real, so it need not wait for daytime; set
    # SMS_SEND_WINDOW to try the window out.
    env["SMS_SEND_WINDOW"] = env.get("SMS_SEND_WINDOW") or "always"
    # The sandbox's SMS simulator sends replies back, so recall questions may go by SMS.
    env["TRAINING_RECALL_SMS"] = env.get("TRAINING_RECALL_SMS") or "on"
    if (env.get("APP_ENV") or "development") == "development":
        # Prompts not recorded yet are said by <Say>, which the phone simulator speaks in
        # French; production refuses it, as AT's Say speaks English.
        env["VOICE_SAY_MISSING"] = env.get("VOICE_SAY_MISSING") or "on"
    # Demo enrolment codes, so a new caller can try becoming an agent.
    env["ORG_CODES"] = env.get("ORG_CODES") or DEMO_ORG_CODES
    # A number to try the missed-call callback with, from the simulator.
    env["VOICE_CALLBACK_NUMBERS"] = env.get("VOICE_CALLBACK_NUMBERS") or DEMO_CALLBACK_NUMBER
    for name in ("PORT", "SANDBOX_PORT"):
        if not env[name].isdigit() or not 0 < int(env[name]) < 65536:
            print(f"kalan: {name} must be a port number, not {env[name]!r}", file=sys.stderr)
            return 1
        if not _port_free(int(env[name])):
            print(
                f"kalan: port {env[name]} is already in use; set {name} to another port",
                file=sys.stderr,
            )
            return 1
    redis = None
    if not env.get("REDIS_URL"):
        port = REDIS_PORT if _port_free(REDIS_PORT) else free_port()
        redis = EmbeddedRedis(var / "redis", port=port, persist=True).start()
        env["REDIS_URL"] = redis.url
        name = Path(redis.binary).name
        version = ".".join(map(str, server_version(redis.binary)))
        print(f"redis: embedded {name} on {redis.url} ({version}, data in {var / 'redis'})")
    if (env.get("APP_ENV") or "development") == "development":
        # A `kalan` command in another terminal reads it: the same database, Redis and
        # rules as the worker, such as SMS at any hour.
        dev_env.write(env)
    procs: dict[str, subprocess.Popen] = {}
    stopping = []
    # Explicit handlers: a shell may start us with SIGINT ignored.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.append(True))
    try:
        _prepare(env)
        # The web workers' metrics are summed from files there (gunicorn empties it as it starts).
        web_env = {**env, "PROMETHEUS_MULTIPROC_DIR": str(var / "metrics")}
        for name, cmd in _children(env).items():
            # A session of their own: Ctrl-C reaches only us, and we stop them in order.
            child_env = web_env if name == "web" else env
            procs[name] = subprocess.Popen(cmd, env=child_env, start_new_session=True)
        sandbox = f"http://127.0.0.1:{env['SANDBOX_PORT']}"
        if not (
            _wait_healthy(env["KALAN_URL"] + "/healthz", procs)
            and _wait_healthy(sandbox + "/healthz", procs)
        ):
            print("kalan: a process failed to start; see the log above", file=sys.stderr)
            return 1
        print(f"\nKalan is up on {env['KALAN_URL']} (USSD code {env.get('USSD_CODE', '*123#')}).")
        print(
            f"Console: {env['KALAN_URL']}/console/ (first: .venv/bin/kalan users add EMAIL"
            " --role admin)"
        )
        print(f"Phone simulator: {sandbox}/   Press Ctrl-C to stop.\n", flush=True)
        while not stopping:
            dead = [name for name, p in procs.items() if p.poll() is not None]
            if redis and redis.process.poll() is not None:
                dead.append("redis")
            if dead:
                print(f"kalan: {', '.join(dead)} stopped unexpectedly", file=sys.stderr)
                return 1
            time.sleep(0.5)
        return 0
    except KeyboardInterrupt:
        return 0
    except subprocess.CalledProcessError as exc:
        print(f"kalan: preparation failed: {' '.join(exc.cmd[2:])}", file=sys.stderr)
        return 1
    finally:
        print("\nStopping...", flush=True)
        _stop(procs)
        if redis:
            redis.stop()


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


if __name__ == "__main__":
    raise SystemExit(serve())
