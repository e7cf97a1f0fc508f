"""GET /: the web port's address leads to the console."""


def test_the_root_sends_a_browser_to_the_console(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/console/"
    assert client.head("/").status_code == 302


def test_following_it_ends_on_the_sign_in_page(client):
    response = client.get("/", follow_redirects=True)
    assert response.status_code == 200
    assert response.request.path == "/console/login"
    assert "Connexion" in response.get_data(as_text=True)
