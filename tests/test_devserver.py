"""`make run` end to end: every process starts, the simulator dials, Ctrl-C stops all."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

import requests

from app.embedded import free_port


def wait_for_line(proc, marker: str, timeout_s: float = 90) -> list[str]:
    """Read the process's output until a line contains marker."""
    lines, deadline = [], time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        lines.append(line)
        if marker in line:
            return lines
    raise AssertionError("no line with " + marker + ":\n" + "".join(lines))


def test_dev_server_runs_everything_and_stops_on_ctrl_c(tmp_path):
    port, sandbox_port = free_port(), free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "SANDBOX_PORT": str(sandbox_port),
        "VAR_DIR": str(tmp_path),
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("REDIS_URL", "DATABASE_URL", "WEBHOOK_TOKEN"):
        env.pop(name, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "dev"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = wait_for_line(proc, "Phone simulator:")
        assert f"http://127.0.0.1:{sandbox_port}/" in lines[-1]
        sandbox = f"http://127.0.0.1:{sandbox_port}"
        assert "Composer" in requests.get(sandbox + "/", timeout=5).text
        call = requests.post(
            sandbox + "/simulator/ussd/start", json={"phone": "+22370000001"}, timeout=15
        ).json()
        assert call["screen"].startswith("Kalan - Menu principal")  # a seeded agent
        hop = requests.post(
            sandbox + "/simulator/ussd/reply",
            json={"sessionId": call["sessionId"], "input": "4"},
            timeout=15,
        ).json()
        assert hop["screen"].startswith("Mon compte / Aide")
        requests.post(
            sandbox + "/simulator/ussd/hangup", json={"sessionId": call["sessionId"]}, timeout=15
        )
        health = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()
        assert health["status"] == "ok"
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output
    with sqlite3.connect(tmp_path / "kalan.db") as db:
        assert db.execute("select count(*) from contacts where role='agent'").fetchone()[0] >= 3
        event = db.execute("select status, last_node from ussd_events").fetchone()
    assert event == ("Incomplete", "account")
    for p in (port, sandbox_port):
        try:
            requests.get(f"http://127.0.0.1:{p}/healthz", timeout=1)
            raise AssertionError(f"port {p} still answers after Ctrl-C")
        except requests.ConnectionError:
            pass
    assert (tmp_path / "redis" / "appendonlydir").exists() or any((tmp_path / "redis").iterdir())
