"""The Procfile's gunicorn settings keep a worker's loaded app out of full garbage collections."""

import subprocess
import sys

import requests

from app.infra.config import ROOT

from .deploy.test_image import container_env, free_port, until


def test_a_worker_freezes_what_it_loaded_so_full_collections_skip_it(app, tmp_path):
    """A full collection walked the app's objects, some 130,000, stalling a hop (issue 19)."""
    port = free_port()
    env = container_env(app, tmp_path)
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "python:app.web.gunicorn_conf", "--workers",
         "1", "--bind", f"127.0.0.1:{port}", "tests.worker_probe:app"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        until(lambda: _answers(url + "/healthz", web))
        form = {"phoneNumber": "+22370000991", "serviceCode": "*123#", "text": "",
                "sessionId": f"ATUid_gc_{port}"}  # fmt: skip
        assert requests.post(url + "/ussd", data=form, timeout=10).text.startswith("CON ")
        counts = requests.get(url + "/gc", timeout=10).json()
    finally:
        web.terminate()
        web.wait(timeout=30)
    # What a hop leaves behind is walked still; the app loaded once, ten times more, is not.
    assert counts["frozen"] > 10 * counts["walked"], counts


def _answers(url: str, web) -> bool:
    try:
        return requests.get(url, timeout=2).ok
    except requests.ConnectionError:
        assert web.poll() is None, web.stdout.read()
        return False
