"""A query string whose bytes are not UTF-8 is read as a bad escape on every route, not a 500."""

import pytest

from app.web.query_string import Utf8Query

HOP = {"sessionId": "ATUid_qs", "serviceCode": "*123#", "phoneNumber": "+22370000501", "text": ""}
NOT_UTF8 = "x=\xff\xfe&token="  # WSGI's latin-1 text of the bytes ff fe


@pytest.mark.parametrize("content_type", ["multipart/form-data", None])
@pytest.mark.parametrize(
    ("path", "expected"),
    [("/ussd", 200), ("/voice", 400), ("/sms/inbound", 400), ("/sms/delivery", 400),
     ("/console/login", 400)],
)  # fmt: skip
def test_a_query_not_in_utf8_is_answered_as_any_other(client, path, expected, content_type):
    """Multipart bodies, and every route beside the lean /ussd edge, read it through werkzeug."""
    extra = {"content_type": content_type} if content_type else {}
    response = client.post(path, data=HOP, environ_overrides={"QUERY_STRING": NOT_UTF8}, **extra)
    assert response.status_code == expected


@pytest.mark.parametrize(
    ("given", "seen"),
    [
        ("a=1&b=%FF", "a=1&b=%FF"),  # ASCII: as it came
        ("n=\xc3\xa9", "n=\xc3\xa9"),  # UTF-8 bytes: werkzeug reads them
        ("n=\xe9&t=a b", "n=%E9&t=a%20b"),  # latin-1 bytes: escaped, so read as U+FFFD
    ],
)
def test_only_a_query_that_is_not_utf8_is_escaped(given, seen):
    found = {}

    def app(environ, start_response):
        found["query"] = environ["QUERY_STRING"]
        return []

    Utf8Query(app)({"QUERY_STRING": given}, None)
    assert found["query"] == seen
