"""docs/deploy.md: linked from the README, and true to what it tells an operator to type."""

import re
import shlex

import click
import yaml

from app.cli import main
from app.infra.config import ROOT

GUIDE = (ROOT / "docs" / "deploy.md").read_text()
README = (ROOT / "README.md").read_text()
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())


def anchors(markdown: str) -> set[str]:
    """Return the anchors of a Markdown file's headings, as GitHub makes them."""
    found = set()
    for title in re.findall(r"^#+ (.+)$", markdown, re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")
        found.add(slug)
    return found


def test_the_readme_links_the_guide():
    assert "](docs/deploy.md)" in README


def test_its_links_lead_somewhere():
    for anchor in re.findall(r"\]\(#([\w-]+)\)", GUIDE):
        assert anchor in anchors(GUIDE), anchor
    for anchor in re.findall(r"\]\(\.\./README\.md#([\w-]+)\)", GUIDE):
        assert anchor in anchors(README), anchor


def compose_commands() -> list[tuple[str, list[str]]]:
    """Return each `docker compose VERB ...` the guide gives: its verb and services."""
    found = []
    for line in re.findall(r"docker compose ([^`#\n]+)", GUIDE):
        words = shlex.split(line.split("&&")[0].split(">")[0])
        verb, services, skip = words[0], [], False
        for word in words[1:]:
            if skip or word.startswith("-"):
                skip = word in ("-e", "--scale")  # options followed by a value
                continue
            services.append(word)
            if verb in ("exec", "run"):
                break  # what follows is the command run in it
        found.append((verb, services))
    return found


def test_every_service_it_names_is_in_compose():
    commands = compose_commands()
    named = {service for _, services in commands for service in services}
    assert {"web", "backup", "postgres", "worker", "clock", "migrate"} <= named
    assert named - set(COMPOSE["services"]) == set()
    assert {verb for verb, _ in commands} <= {"up", "exec", "run", "stop", "logs", "ps", "down",
                                               "version"}  # fmt: skip


def test_every_file_it_names_exists():
    paths = set(re.findall(r"\b((?:deploy|docs)/[\w.-]*\w)", GUIDE))
    top = r"`([\w.-]+\.(?:yaml|lock)|Dockerfile|Procfile|\.env\.example)`"
    paths |= set(re.findall(top, GUIDE))
    assert {"deploy/new-env.sh", "deploy/backup.sh", "compose.yaml", "Dockerfile"} <= paths
    assert [p for p in paths if not (ROOT / p).exists()] == []


def test_every_variable_compose_reads_is_explained():
    read = set(re.findall(r"\$\{(\w+)", (ROOT / "compose.yaml").read_text()))
    assert [name for name in sorted(read) if f"`{name}`" not in GUIDE] == []


def test_its_callback_addresses_are_the_apps_and_it_gives_them_all(app):
    given = set(re.findall(r"https://YOUR-HOST(/[\w/]+)\?token=TOKEN", GUIDE))
    callbacks = {
        rule.rule
        for rule in app.url_map.iter_rules()
        if "POST" in rule.methods and rule.rule.startswith(("/ussd", "/sms/"))
    }
    assert given == callbacks


def test_every_kalan_command_it_gives_exists():
    commands = re.findall(r"(?:web |`)kalan ((?:[a-z][\w-]*)(?: [a-z][\w-]*)?)", GUIDE)
    assert commands
    for words in commands:
        command = main
        for word in words.split():
            if not isinstance(command, click.Group):
                break
            assert word in command.commands, words
            command = command.commands[word]
