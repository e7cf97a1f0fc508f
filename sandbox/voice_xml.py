"""Africa's Talking voice XML, read strictly: the actions of a <Response>, or why it is unusable.

What AT would refuse (not XML, not a <Response>, a verb AT does not know, an
attribute it cannot read) raises XmlError. What AT would run but Kalan should
never answer (Dial, Enqueue and the other verbs Kalan does not use, attributes
AT does not name, a prompt waiting for keys with no Redirect after it) is kept
as a warning, and the verb is skipped. Codes are English: the page words them.
"""

from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit
from xml.etree import ElementTree as ET

# Kalan's verbs, then AT's others (docs.africastalking.com/voice/actions).
KALAN_VERBS = ("Say", "Play", "GetDigits", "Record", "Redirect", "Reject")
OTHER_AT_VERBS = ("Dial", "Enqueue", "Dequeue", "Conference")
PROMPTS = ("Say", "Play")  # what GetDigits and Record may hold
KEYS = "0123456789*#"
DIGITS_TIMEOUT_S = 30  # AT's default when GetDigits names none (voice/getdigits)
ATTRIBUTES = {
    "Say": ("voice", "playBeep"),
    "Play": ("url",),
    "GetDigits": ("numDigits", "timeout", "finishOnKey", "callbackUrl"),
    "Record": ("finishOnKey", "maxLength", "timeout", "trimSilence", "playBeep", "callbackUrl"),
    "Redirect": (),
    "Reject": (),
}


class XmlError(ValueError):
    """An answer AT could not run; str() is a code such as "unknown_verb:Hangup"."""


@dataclass(frozen=True)
class Prompt:
    """Something the caller hears: a text said (Say) or an audio file played (Play)."""

    kind: str  # "say" or "play"
    text: str = ""
    url: str = ""

    @property
    def name(self) -> str:
        """Return the file name a Play's URL ends with, or "" for a Say."""
        return unquote(PurePosixPath(urlsplit(self.url).path).name) if self.url else ""


@dataclass(frozen=True)
class GetDigits:
    """Keys to collect after the prompts, posted to callback_url as dtmfDigits."""

    prompts: tuple[Prompt, ...]
    callback_url: str | None
    num_digits: int | None = None
    timeout: int = DIGITS_TIMEOUT_S
    finish_on_key: str | None = None


@dataclass(frozen=True)
class Record:
    """A recording to make after the prompts, posted to callback_url as recordingUrl."""

    prompts: tuple[Prompt, ...]
    callback_url: str | None
    finish_on_key: str | None = None
    max_length: int | None = None
    timeout: int | None = None
    trim_silence: bool = False
    play_beep: bool = False


@dataclass(frozen=True)
class Redirect:
    """Fetch the next actions from url."""

    url: str


@dataclass(frozen=True)
class Reject:
    """Refuse the call: free for the caller."""


def parse(body: str) -> tuple[list, list[str]]:
    """Read a voice answer into its actions and warnings; raise XmlError when AT could not."""
    try:
        root = ET.fromstring(body.strip())
    except ET.ParseError:
        raise XmlError("bad_xml") from None
    if root.tag != "Response":
        raise XmlError(f"not_response:{root.tag}")
    _no_text(root)
    actions, warnings = [], []
    for element in root:
        verb = element.tag
        if verb in OTHER_AT_VERBS:
            warnings.append(f"unexpected_verb:{verb}")
            continue
        if verb not in KALAN_VERBS:
            raise XmlError(f"unknown_verb:{verb}")
        warnings += [
            f"unknown_attribute:{verb}.{a}" for a in element.attrib if a not in ATTRIBUTES[verb]
        ]
        actions.append(_action(element))
    for index, action in enumerate(actions):
        follows = actions[index + 1] if index + 1 < len(actions) else None
        # No input means no callback: without a Redirect, silence ends the call.
        if isinstance(action, GetDigits | Record) and not isinstance(follows, Redirect):
            warnings.append(f"no_redirect:{type(action).__name__}")
    return actions, warnings


def _action(element: ET.Element):
    """Read one top-level verb."""
    verb = element.tag
    if verb in PROMPTS:
        return _prompt(element)
    if verb == "Redirect":
        _no_children(element)
        return Redirect(_url(element.text, "Redirect"))
    if verb == "Reject":
        _no_children(element)
        return Reject()
    prompts = []
    for child in element:
        if child.tag not in PROMPTS:
            raise XmlError(f"bad_nesting:{verb}.{child.tag}")
        prompts.append(_prompt(child))
    _no_text(element)
    callback = element.get("callbackUrl")
    callback = None if callback is None else _url(callback, f"{verb}.callbackUrl")
    finish = _key(element)
    if verb == "GetDigits":
        timeout = _number(element, "timeout")
        return GetDigits(
            tuple(prompts),
            callback,
            _number(element, "numDigits"),
            DIGITS_TIMEOUT_S if timeout is None else timeout,
            finish,
        )
    return Record(
        tuple(prompts),
        callback,
        finish,
        _number(element, "maxLength"),
        _number(element, "timeout"),
        _flag(element, "trimSilence"),
        _flag(element, "playBeep"),
    )


def _prompt(element: ET.Element) -> Prompt:
    _no_children(element)
    if element.tag == "Play":
        if element.get("url") is None:
            raise XmlError("missing_attribute:Play.url")
        return Prompt("play", url=_url(element.get("url"), "Play.url"))
    text = " ".join((element.text or "").split())
    if not text:
        raise XmlError("empty:Say")
    return Prompt("say", text=text)


def _url(value: str | None, where: str) -> str:
    """Return an absolute http(s) URL, as AT needs to reach it."""
    value = (value or "").strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise XmlError(f"bad_url:{where}")
    return value


def _number(element: ET.Element, name: str) -> int | None:
    value = element.get(name)
    if value is None:
        return None
    if not value.strip().isdigit() or int(value) < 1:
        raise XmlError(f"bad_attribute:{element.tag}.{name}")
    return int(value)


def _key(element: ET.Element) -> str | None:
    value = element.get("finishOnKey")
    if value is None:
        return None
    if len(value) != 1 or value not in KEYS:
        raise XmlError(f"bad_attribute:{element.tag}.finishOnKey")
    return value


def _flag(element: ET.Element, name: str) -> bool:
    value = element.get(name)
    if value is None:
        return False
    if value.lower() not in ("true", "false"):
        raise XmlError(f"bad_attribute:{element.tag}.{name}")
    return value.lower() == "true"


def _no_children(element: ET.Element) -> None:
    if len(element):
        raise XmlError(f"bad_nesting:{element.tag}.{element[0].tag}")


def _no_text(element: ET.Element) -> None:
    """Refuse loose text between actions: AT would not know what to do with it."""
    loose = [element.text, *(child.tail for child in element)]
    if any(part and part.strip() for part in loose):
        raise XmlError(f"stray_text:{element.tag}")
