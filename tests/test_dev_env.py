"""var/dev.env: what `make run` shares with a `kalan` command in another terminal."""

import stat

from app.infra import dev_env


def test_it_keeps_the_shared_settings_only_privately(tmp_path):
    environ = {
        "VAR_DIR": str(tmp_path),
        "REDIS_URL": "redis://127.0.0.1:6390/0",
        "SMS_SEND_WINDOW": "always",
        "ORG_CODES": "RMCR=1111,CAEB=2222",
        "AT_API_BASE_URL": "",  # empty: left out, the default applies
        "SECRET_KEY": "not-for-the-file",
        "WEBHOOK_TOKEN": "nor-this",
    }
    written = dev_env.write(environ)
    assert written == tmp_path / "dev.env"
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    text = written.read_text(encoding="utf-8")
    assert "not-for-the-file" not in text and "nor-this" not in text
    assert dev_env.read({"VAR_DIR": str(tmp_path)}) == {
        "REDIS_URL": "redis://127.0.0.1:6390/0",
        "SMS_SEND_WINDOW": "always",
        "ORG_CODES": "RMCR=1111,CAEB=2222",
    }
    assert [p.name for p in tmp_path.iterdir()] == ["dev.env"]  # nothing half written left


def test_a_value_reads_back_as_written(tmp_path):
    odd = "a 'quoted' \\ value # not a comment"
    dev_env.write({"VAR_DIR": str(tmp_path), "ORG_CODES": odd})
    assert dev_env.read({"VAR_DIR": str(tmp_path)}) == {"ORG_CODES": odd}


def test_a_new_run_replaces_the_last_ones_settings(tmp_path):
    dev_env.write({"VAR_DIR": str(tmp_path), "REDIS_URL": "redis://127.0.0.1:6390/0"})
    dev_env.write({"VAR_DIR": str(tmp_path), "PORT": "5050"})
    assert dev_env.read({"VAR_DIR": str(tmp_path)}) == {"PORT": "5050"}


def test_nothing_is_read_in_production_or_without_a_file(tmp_path):
    assert dev_env.read({"VAR_DIR": str(tmp_path)}) == {}
    dev_env.write({"VAR_DIR": str(tmp_path), "SMS_SEND_WINDOW": "always"})
    assert dev_env.read({"VAR_DIR": str(tmp_path), "APP_ENV": "production"}) == {}
    assert dev_env.read({"VAR_DIR": str(tmp_path), "APP_ENV": ""}) == {"SMS_SEND_WINDOW": "always"}


def test_provider_secrets_go_in_only_as_the_sandboxs_own(tmp_path):
    """make run's Orange and Infobip credentials are the sandbox's, no secret: they are
    shared; a real one set in the shell never reaches the file."""
    sandbox = {"ORANGE_CLIENT_SECRET": "sandbox-secret", "INFOBIP_API_KEY": "sandbox-key",
               "SMS_PROVIDER": "orange", "ORANGE_CLIENT_ID": "sandbox-client"}  # fmt: skip
    dev_env.write({"VAR_DIR": str(tmp_path), **sandbox})
    assert dev_env.read({"VAR_DIR": str(tmp_path)}) == sandbox
    real = {"ORANGE_CLIENT_SECRET": "R3al-0range-s3cret", "INFOBIP_API_KEY": "r" * 40}
    written = dev_env.write({"VAR_DIR": str(tmp_path), **sandbox, **real})
    assert "R3al-0range-s3cret" not in written.read_text() and "r" * 40 not in written.read_text()
    assert dev_env.read({"VAR_DIR": str(tmp_path)}) == {
        "SMS_PROVIDER": "orange", "ORANGE_CLIENT_ID": "sandbox-client"}  # fmt: skip
