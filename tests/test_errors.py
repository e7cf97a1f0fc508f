"""HTTP errors come back as one plain line, with their headers."""


def test_405_keeps_the_allow_header(client):
    response = client.get("/ussd")
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]
    assert response.get_data(as_text=True) == "Method Not Allowed\n"


def test_unknown_path_is_one_line(client):
    response = client.get("/nowhere")
    assert response.status_code == 404
    assert response.mimetype == "text/plain"
    assert response.get_data(as_text=True) == "Not Found\n"
