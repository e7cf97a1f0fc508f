"""Fetching a URL someone else gave us (app/infra/download.py), over real HTTP: only http(s),
never inwards in production, size capped, redirects checked, errors without the URL."""

import socket

import pytest

from app.infra import download

from .helpers import media_server, wav

MB = 1024 * 1024


@pytest.fixture
def media():
    with media_server() as served:
        yield served


def test_a_file_is_fetched_with_its_type(media):
    got = download.fetch(media.serve("/a.wav", wav(), Content_Type="Audio/WAV; rate=8000"),
                         MB, 10, allow_local=True)  # fmt: skip
    assert got == download.Download(wav(), "audio/wav")


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:9/a.wav", "http://localhost/a.wav", "http://10.1.2.3/a.wav",
     "http://169.254.169.254/latest/meta-data/", "http://[::1]/a.wav", "http://0.0.0.0/",
     "http://[::ffff:127.0.0.1]/a.wav", "http://192.168.1.1/"],
)  # fmt: skip
def test_production_never_fetches_from_this_machine_or_a_private_network(url):
    with pytest.raises(download.Refused, match="private, loopback or reserved"):
        download.fetch(url, MB, 10)


def test_a_public_address_passes_the_check():
    download.check_public("https://93.184.216.34/a.wav")  # an address: no DNS needed


def test_the_local_server_itself_is_refused_unless_allowed(media):
    url = media.serve("/a.wav", wav())
    with pytest.raises(download.Refused):
        download.fetch(url, MB, 10)
    assert media.hits == []  # refused before any request left


def test_redirects_are_followed_and_checked_each_time(media):
    media.serve("/a.wav", wav())
    media.serve("/moved", b"", status=302, Location="/a.wav")
    assert download.fetch(media.url + "/moved", MB, 10, allow_local=True).body == wav()
    media.serve("/elsewhere", b"", status=301, Location="file:///etc/passwd")
    with pytest.raises(download.Refused, match="not http or https"):
        download.fetch(media.url + "/elsewhere", MB, 10, allow_local=True)
    media.serve("/loop", b"", status=307, Location="/loop")
    with pytest.raises(download.Refused, match="more than 3 redirects"):
        download.fetch(media.url + "/loop", MB, 10, allow_local=True)
    assert media.hits.count("/loop") == 4


@pytest.mark.parametrize(
    ("status", "error"),
    [(404, download.Transient), (503, download.Transient), (429, download.Transient),
     (403, download.Refused), (401, download.Refused), (410, download.Refused)],
)  # fmt: skip
def test_what_is_worth_trying_again(media, status, error):
    url = media.serve("/x", b"no", status=status, Content_Type="text/plain")
    with pytest.raises(error) as caught:
        download.fetch(url, MB, 10, allow_local=True)
    assert str(caught.value) == f"HTTP {status}"


@pytest.mark.parametrize("chunked", [False, True])
def test_a_body_over_the_cap_is_refused(media, chunked):
    url = media.serve("/big", b"\0" * (MB + 1), chunked=chunked)
    with pytest.raises(download.Refused, match=f"larger than {MB} bytes"):
        download.fetch(url, MB, 10, allow_local=True)
    assert download.fetch(media.serve("/fits", b"\0" * MB), MB, 10, allow_local=True)


def test_a_closed_port_is_a_passing_failure_that_names_no_url():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(download.Transient) as caught:
        download.fetch(f"http://127.0.0.1:{port}/secret-token.wav", MB, 10, allow_local=True)
    assert str(caught.value) == "could not connect"


@pytest.mark.parametrize(
    ("url", "why"),
    [(None, "no URL"), ("", "no URL"), ("ftp://a.org/x", "not http or https"),
     ("https://a.org/" + "x" * 1000, "longer than 1000"), ("https:///x", "no host"),
     ("https://u:p@a.org/x", "credentials"), ("https://a.org/x\n", "control characters"),
     ("https://a.org:70000/x", "bad port")],
)  # fmt: skip
def test_check_url(url, why):
    with pytest.raises(download.Refused, match=why):
        download.check_url(url)
