"""The link to the phone simulator, in development only."""

import re

import pytest

from ..helpers import AuthActions
from .conftest import add_user


@pytest.mark.parametrize(
    ("settings", "link"),
    [
        ({"AT_API_BASE_URL": "http://127.0.0.1:5001"}, "http://127.0.0.1:5001/"),
        ({"AT_API_BASE_URL": "http://127.0.0.1:5001/"}, "http://127.0.0.1:5001/"),
        ({"AT_API_BASE_URL": ""}, None),
        ({"APP_ENV": "production", "SECRET_KEY": "x" * 32, "WEBHOOK_TOKEN": "t",
          "AT_API_BASE_URL": "http://127.0.0.1:5001"}, None),
    ],
)  # fmt: skip
def test_the_simulator_link_is_shown_only_in_development(make_app, settings, link):
    """In development with a sandbox, the header links to its phone simulator; not in production."""
    app = make_app(**settings)
    client = app.test_client()
    assert AuthActions(client).login(add_user(app, "admin")).status_code == 302
    response = client.get("/console/dashboard")
    assert response.status_code == 200
    links = re.findall(r'<a href="([^"]+)">Simulateur</a>', response.get_data(as_text=True))
    assert links == ([link] if link else [])
