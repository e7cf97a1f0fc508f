"""A call's speech as Africa's Talking voice XML: Play, GetDigits, Record, Redirect, Reject."""

import re
from collections.abc import Callable
from xml.etree import ElementTree as ET

VERBS = ("Say", "Play", "GetDigits", "Record", "Redirect", "Reject")  # all this app ever answers
RECORD_MAX_S = 20  # a village's name, not a story: a short recording is also less of a voice print
RECORD_SILENCE_S = 5
TIGHT = re.compile(r"\s+([.,)])")  # clips joined by spaces: no space before punctuation


def document(
    speech: dict,
    prompt_url: Callable[[list], str | None],
    callback: Callable[[str], str],
    digits_timeout: int,
    say_missing: bool,
) -> str:
    """Return the XML for a speech.

    prompt_url gives one audio URL for the speech's parts, or None when a part
    has no recording: then, where say_missing allows (development only, since
    Say speaks English), the text is said; else the prompt is left out.
    callback(via) is the URL of the next turn; every prompt that waits for keys
    is followed by a Redirect to it, as no input means no callback.
    """
    root = ET.Element("Response")
    prompt = _prompt(speech["parts"], prompt_url, say_missing)
    wanted = speech.get("input")
    if speech.get("end") or not wanted:
        root.extend(prompt)
    elif wanted.get("record"):
        record = ET.SubElement(root, "Record", _record(callback("record")))
        record.extend(prompt)
        ET.SubElement(root, "Redirect").text = callback("silence")
    else:
        attrs = {"timeout": str(digits_timeout), "numDigits": str(wanted["digits"])}
        if wanted.get("finish"):
            attrs["finishOnKey"] = wanted["finish"]
        attrs["callbackUrl"] = callback("keys")
        ET.SubElement(root, "GetDigits", attrs).extend(prompt)
        ET.SubElement(root, "Redirect").text = callback("silence")
    return _xml(root)


def reject() -> str:
    """Return the answer that refuses a call, which costs its caller nothing."""
    root = ET.Element("Response")
    ET.SubElement(root, "Reject")
    return _xml(root)


def empty() -> str:
    """Return an answer with no action: for the last request of a call."""
    return _xml(ET.Element("Response"))


def _prompt(parts: list, prompt_url, say_missing: bool) -> list:
    """Return the prompt's elements: one Play of every part, or a Say where allowed."""
    if not parts:
        return []
    url = prompt_url(parts)
    if url is not None:
        return [ET.Element("Play", {"url": url})]
    if not say_missing:
        return []
    say = ET.Element("Say")
    say.text = TIGHT.sub(r"\1", " ".join(part["text"] for part in parts))
    return [say]


def _record(url: str) -> dict:
    return {
        "finishOnKey": "#",
        "maxLength": str(RECORD_MAX_S),
        "timeout": str(RECORD_SILENCE_S),
        "trimSilence": "true",
        "playBeep": "true",
        "callbackUrl": url,
    }


def _xml(root) -> str:
    return '<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(root, encoding="unicode")
