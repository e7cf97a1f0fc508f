"""The phone simulator's words: all in sandbox/content/, none left in its template."""

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from sandbox import create_app, ussd, words

FOLDER = Path(words.__file__).parent / "templates"
# The page, and the voice call it includes.
TEMPLATES = [FOLDER / name for name in ("simulator.html", "voice_phone.html", "voice_script.html")]
WORDS = words.load()
MARK = "¤"


def template_source() -> str:
    return "".join(path.read_text(encoding="utf-8") for path in TEMPLATES)


def test_every_word_the_page_asks_for_is_in_the_file():
    source = template_source()
    asked = {
        "page": set(re.findall(r"\bpage\.(\w+)", source)),
        "script": set(re.findall(r"\bWORDS\.(\w+)", source)),
        "lines": set(re.findall(r"\bLINES\.(\w+)", source)),
    }
    have = {"page": WORDS["page"], "script": WORDS["script"], "lines": WORDS["script"]["lines"]}
    assert all(asked.values()), asked  # the patterns still find what the page asks for
    for where, names in asked.items():
        assert names <= set(have[where]), (where, names - set(have[where]))


def test_the_template_is_plain_ascii():
    """French needs accents often enough that a sentence written back into the page shows."""
    source = template_source()
    assert re.findall(r"[^\x00-\x7f]", source) == []


class Shown(HTMLParser):
    """Collect what a reader of the page sees: text outside scripts, and labelling attributes."""

    def __init__(self):
        super().__init__()
        self.texts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        self.skip += tag in ("script", "style")
        self.texts += [v for k, v in attrs if k in ("aria-label", "title", "alt", "placeholder")]

    def handle_endtag(self, tag):
        self.skip -= tag in ("script", "style")

    def handle_data(self, data):
        if not self.skip and data.strip():
            self.texts.append(data.strip())


def marked(tree):
    """Return tree with every word replaced by MARK."""
    if isinstance(tree, dict):
        return {key: marked(value) for key, value in tree.items()}
    return MARK


def test_every_text_of_the_page_comes_from_the_file():
    app = create_app({"TESTING": True})
    app.extensions["simulator_words"] = {**marked(WORDS), "lang": WORDS["lang"]}
    page = app.test_client().get("/").get_data(as_text=True)
    shown = Shown()
    shown.feed(page)
    assert shown.texts and set(shown.texts) == {MARK}, shown.texts
    blob = re.search(r'<script type="application/json" id="words">(.*?)</script>', page, re.S)
    assert json.loads(blob[1]) == marked(WORDS["script"])  # the script's words, and no others


# The emulated provider APIs answer Kalan's adapters in the provider's own words, never the page.
PROVIDER_APIS = ("orange.py", "infobip.py")


def test_every_error_the_sandbox_may_send_is_worded():
    sent = set(re.findall(r'_error\("(\w+)"', _sources(PROVIDER_APIS)))
    sent |= {f"missing_{name}" for name in ("phone", "sessionId", "input", "from", "text")}
    sent |= {ussd.MALFORMED, "Request timed out", "Connection refused", "Connection failed"}
    sent.add("session_expired")
    # Why a call failed or a recording was refused: codes, some followed by ":detail".
    sources = _sources(PROVIDER_APIS)
    sent |= set(re.findall(r'(?:XmlError|RecordingError)\(f?"(\w+)[:"]', sources))
    sent |= set(re.findall(r'(?:turn\.error = |jsonify\(error=)"(\w+)"', sources))
    sent.discard("bad_faults")  # the faults API answers tests, never the page
    assert {"bad_json", "bad_phone", "unknown_session"} <= sent  # the pattern still works
    assert {"unknown_verb", "not_wav", "redirect_loop", "unknown_recording"} <= sent
    assert sent <= set(WORDS["script"]["errors"]), sent - set(WORDS["script"]["errors"])


def test_every_warning_of_a_call_is_worded():
    sent = set(re.findall(r'warnings(?:\.append\(|\s*\+=\s*\[\s*)f"(\w+):', _sources()))
    assert {"unexpected_verb", "unknown_attribute", "no_redirect", "play_unavailable",
            "play_not_audio"} <= sent  # fmt: skip
    assert sent <= set(WORDS["script"]["warnings"]), sent - set(WORDS["script"]["warnings"])


def _sources(skip: tuple[str, ...] = ()) -> str:
    folder = Path(words.__file__).parent
    files = [p for p in sorted(folder.glob("*.py")) if p.name not in skip]
    return "".join(p.read_text(encoding="utf-8") for p in files)


@pytest.mark.parametrize(
    ("line", "values", "expected"),
    [
        ("Composer {code}", {"code": "*123#"}, "Composer *123#"),
        ("{n} sur {max}", {"n": 3, "max": 160}, "3 sur 160"),
        ("Appel de {phone}", {}, "Appel de {phone}"),  # unknown: left as written
        ("Prêt à composer.", {"code": "x"}, "Prêt à composer."),
        ("{a}{a}", {"a": "€"}, "€€"),
    ],
)
def test_fill(line, values, expected):
    assert words.fill(line, **values) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, "fr.yaml: [Errno 2] No such file or directory"),
        ("page: [unclosed\n", "fr.yaml: while parsing"),
        ("- a\n", "fr.yaml: needs the sections page and script"),
        ("page: {}\n", "fr.yaml: needs the sections page and script"),
        ("page: {a: 1}\nscript: {lines: {b: [x]}}\n", "fr.yaml: page.a, script.lines.b must be"),
        ("page: {a: x}\nscript: {lines: {b: y}}\n", None),
    ],
)
def test_load(tmp_path, monkeypatch, text, expected):
    monkeypatch.setattr(words, "FOLDER", tmp_path)
    if text is not None:
        (tmp_path / "fr.yaml").write_text(text, encoding="utf-8")
    if expected is None:
        assert words.load() == {"lang": "fr", "page": {"a": "x"}, "script": {"lines": {"b": "y"}}}
        return
    with pytest.raises(words.WordsError) as caught:
        words.load()
    assert str(caught.value).startswith(expected)
    with pytest.raises(SystemExit, match=f"^sandbox: cannot start: {re.escape(expected)}"):
        create_app({"TESTING": True})
