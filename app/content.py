"""Load the copy under content/<lang>/ into a Catalog, refusing what phones cannot show."""

import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from app.cases import alerts
from app.cases.alerts import COPY as ALERTS
from app.infra.models import Case
from app.messaging import keywords
from app.training.course import CourseError, load_course, load_facts, read_yaml
from app.training.translation import GLOSSARY, load_glossary, load_translation, respell_tree
from flows import Catalog, build, check, desk, main, overflows, report, speech, training
from flows.catalog import FALLBACK
from flows.course import Course
from flows.gsm import outside
from flows.training.recall import QUESTIONS

# Copy the web layer shows outside any journey.
APP_KEYS = ("error.unexpected", "error.unavailable", "lang.name", *desk.COPY, *main.COPY,
            *training.COPY, *report.COPY, *ALERTS)  # fmt: skip
SMS_PREFIX = "sms."  # SMS templates: outside GSM-7 is a warning, on screens an error
CONSOLE_PREFIX = "console."  # web pages: any character is fine
PLACEHOLDER = re.compile(r"\$(\w+)")
FACTS = "facts.yaml"  # beside the language folders: what every course cites, with confidence


class ContentError(Exception):
    """The content files are unusable; the message lists every problem."""


def flatten(tree, prefix: str, out: dict, problems: list, where: str) -> None:
    """Turn nested mappings into dotted keys."""
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flatten(value, name + ".", out, problems, where)
        elif isinstance(value, str):
            if name in out:
                problems.append(f"{where}: duplicate key {name!r}")
            out[name] = value
        else:
            problems.append(f"{where}: {name!r} must be text, not {type(value).__name__}")


def read_language(folder: Path) -> tuple[dict[str, str], dict, list[str], list[str]]:
    """Read one language folder into flat keys, keywords sections (by file), problems, warnings."""
    texts: dict[str, str] = {}
    sections: dict[str, object] = {}  # SMS keywords are lists of words, not copy: kept apart
    problems: list[str] = []
    warnings: list[str] = []
    for path in sorted(folder.glob("*.yaml")):
        where = f"{folder.name}/{path.name}"
        try:
            tree = read_yaml(path) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            problems.append(f"{where}: not valid YAML: {exc}".splitlines()[0])
            continue
        if not isinstance(tree, dict):
            problems.append(f"{where}: the top level must be a mapping")
            continue
        if keywords.SECTION in tree:
            sections[where] = tree.pop(keywords.SECTION)
        # Translators write their own orthography; keywords are matched as texted, not shown.
        tree = respell_tree(tree, folder.name)
        flatten(tree, "", texts, problems, where)
    for key, text in texts.items():
        # Web pages and calls may use any letter: only screens and SMS are GSM-7.
        bad = None if key.startswith((CONSOLE_PREFIX, speech.VOICE)) else outside(text)
        if bad and key.startswith(SMS_PREFIX):
            # An SMS may leave GSM-7, at a price: UCS-2 parts hold 70, not 160.
            warnings.append(
                f"{folder.name}: SMS template {key!r} leaves GSM-7 ({bad!r}): "
                "UCS-2 parts hold 70 characters, unless SMS_ASCII_FOLD folds them"
            )
        elif bad:
            problems.append(f"{folder.name}: {key!r} has characters outside GSM-7: {bad!r}")
    return texts, sections, problems, warnings


def load(root: Path) -> tuple[Catalog, list[str]]:
    """Load and validate all languages; return the catalog and warnings.

    Raises ContentError when any language breaks a hard rule.
    """
    if not (root / FALLBACK).is_dir():
        raise ContentError(f"{root}: no {FALLBACK}/ folder")
    texts, warnings, sections = {}, [], {}
    course = Course()
    facts, problems = load_facts(root / FACTS)  # the facts file's own problems come first
    problems.extend(load_glossary(root / GLOSSARY))
    # French first: what another language says is checked against it.
    folders = sorted(
        (p for p in root.iterdir() if p.is_dir()), key=lambda p: (p.name != FALLBACK, p.name)
    )
    for folder in folders:
        texts[folder.name], found_sections, found, noted = read_language(folder)
        sections.update(found_sections)
        problems.extend(found)
        warnings.extend(noted)
        if folder.name != FALLBACK:
            # A translation carries text only: French's course is the one scored.
            course_texts, found = load_translation(folder / "course", root / FALLBACK / "course")
            problems.extend(found)
        else:
            try:
                course, course_texts = load_course(folder / "course", facts)
            except CourseError as exc:
                problems.extend(str(exc).splitlines())
                continue
        clash = sorted(set(course_texts) & set(texts[folder.name]))
        problems.extend(f"{folder.name}: course key {key!r} is also a screen key" for key in clash)
        texts[folder.name].update(course_texts)
    base = texts[FALLBACK]
    for lang, table in texts.items():
        if lang == FALLBACK:
            continue
        for key in sorted(set(table) - set(base)):
            problems.append(f"{lang}: key {key!r} does not exist in {FALLBACK}")
        if set(base) - set(table):
            # One line, not one per key: a new language would drown every other warning.
            done = len(set(base) & set(table))
            warnings.append(
                f"{lang}: {done} of {len(base)} texts translated, the rest falls back to "
                f"{FALLBACK}; `kalan content coverage {lang}` lists what is missing"
            )
        for key in sorted(set(base) & set(table)):
            if set(PLACEHOLDER.findall(base[key])) != set(PLACEHOLDER.findall(table[key])):
                problems.append(f"{lang}: {key!r} placeholders differ from {FALLBACK}")
    problems.extend(f"{FALLBACK}: {p}" for p in speech.overrides(base))
    if "lang.name" not in base:
        problems.append(f"{FALLBACK}: missing 'lang.name'")
    words, found = keywords.table(sections)
    problems.extend(found)
    if problems:
        raise ContentError("\n".join(problems))
    names = {lang: table.get("lang.name", lang) for lang, table in texts.items()}
    catalog = Catalog(texts, names, course, words)
    problems = check(build(catalog.course), catalog, (*APP_KEYS, *speech.required()))
    if problems:
        raise ContentError("\n".join(problems))
    return catalog, warnings


def oversized(catalog: Catalog, limit: int, code: str) -> list[str]:
    """List the screens whose copy cannot be shown whole within limit characters."""
    ends = ("error.unexpected", "error.unavailable", "desk.conflict")
    catalog = replace(catalog)  # its own laid-out screens: samples never crowd out a phone's
    flow = build(catalog.course)
    return overflows(flow, catalog, sample_context(catalog, code), limit, ends, samples(catalog))


def previews(catalog: Catalog, flow, limit: int, code: str):
    """Yield (node id, reply) for every page of every screen, as a phone shows it."""
    from flows.engine import Route, layout, new_state, render

    catalog = replace(catalog)  # its own laid-out screens: samples never crowd out a phone's
    ctx, found = sample_context(catalog, code), samples(catalog)
    for node_id, node in flow.items():
        if isinstance(node, Route):
            continue
        # The main menu is the root of every trail: a phone never sees 0 there.
        back = [] if node_id == "menu" else [["menu", 0]]
        for data in found.get(node_id, [{}]):
            state = {**new_state(FALLBACK), "node": node_id, "back": back, "data": data}
            for page in range(len(layout(node, state, ctx, catalog, limit).pages)):
                yield node_id, render(flow, {**state, "page": page}, ctx, catalog, limit)


def samples(catalog: Catalog) -> dict[str, list[dict]]:
    """Return, per screen, the session data that renders each of its phrasings."""
    return {**training.samples(catalog.course), **desk.samples(), **report.samples(),
            **main.samples()}  # fmt: skip


def sample_context(catalog: Catalog, code: str) -> dict:
    """Return a context with the longest realistic values, to render every screen."""
    title = catalog.get  # the recall offer names the module with the longest title
    modules = catalog.course.modules
    longest = max(modules, key=lambda m: len(title(f"course.{m.id}.title")), default=None)
    due = {"due_at": "2026-01-01T00:00:00+00:00", "answered": {}}
    return {
        "phone": "+22370000000",
        "code": code,
        "lang": FALLBACK,
        "languages": tuple(catalog.names.items()),
        "profile": {
            "name": "N" * 40,
            "role": "agent",  # agents see every module
            "organisation": "O" * 40,
            "lang": FALLBACK,
            "focal": "supervisor",  # shows the desk on the main menu
        },
        "training": {},
        "pin": {"result": "wrong", "left": 4, "wait": 900},
        "desk": {"role": "supervisor", "cases": [desk.SAMPLE] * 30},
        "now": "2026-01-01T00:00:00+00:00",
        "recalls": {longest.id: due} if longest else {},
    }


# Realistic values of the longest kind, to show each SMS as it goes out at its longest.
SMS_REFERENCE = "730418"
SMS_SITE = "Site d'orpaillage de Kalana, près du marigot de Massiogo"  # report.PLACE_MAX: 60
SMS_NAME = "Aminata Kadidiatou Coulibaly"
SMS_PHONE = "+22366000001"
SMS_CERTIFICATE = "K7MPQ3TA"  # app.training.certificate.CODE_LENGTH: 8


def sms_previews(catalog: Catalog, config: Mapping) -> list[tuple[str, str]]:
    """Return (key, text) for every SMS template, filled as it is sent, at its longest."""
    code, filled = config["USSD_CODE"], _sms_texts(catalog, config)
    keys = sorted(k for k in catalog.texts[FALLBACK] if k.startswith(SMS_PREFIX))
    return [(k, max(filled.get(k) or [catalog.get(k, code=code)], key=len)) for k in keys]


def _longest(catalog: Catalog, prefix: str) -> str:
    """Return the code under prefix whose label is the longest ("ouelessebougou").

    "unknown" is left out: a report's place is then the region, or nothing.
    """
    codes = [k[len(prefix) :] for k in catalog.texts[FALLBACK]
             if k.startswith(prefix) and k != prefix + "unknown"]  # fmt: skip
    return max(codes, key=lambda c: len(catalog.get(prefix + c)))


def _sms_texts(catalog: Catalog, config: Mapping) -> dict[str, list[str]]:
    """Return, per SMS template, its texts filled as the code that sends it fills them."""
    course, get, code = catalog.course, catalog.get, config["USSD_CODE"]
    title, takeaway = "course.{}.title".format, "course.{}.takeaway".format
    due = datetime(2026, 12, 31, 23, 59, tzinfo=ZoneInfo(config["TZ"]))
    visits = len(config["CASE_FOLLOW_UP_DAYS"])  # the last visit has the longest number
    cercle = _longest(catalog, "report.cercle.")
    region = next((r for r, cercles in report.REGIONS.items() if cercle in cercles), None)
    case = Case(reference=SMS_REFERENCE, status="new", urgent=True, region=region,
                cercle=cercle, place=SMS_SITE, sector=_longest(catalog, "report.sector."),
                hazard=_longest(catalog, "report.hazard."), assignee=SMS_PHONE,
                verify_by=due, follow_up_by=due, follow_ups=visits - 1)  # fmt: skip
    found = {key: [alerts.sms_text(config, catalog, key, case)] for key in ALERTS}
    found["sms.receipt"] = [get("sms.receipt", reference=SMS_REFERENCE, code=code)]
    found["sms.certificate"] = [
        get("sms.certificate", name=SMS_NAME, modules=len(course.modules), code=SMS_CERTIFICATE)
    ]
    found["sms.reminder"] = [get("sms.reminder", title=get(title(m.id)), code=code)
                             for m in course.modules]  # fmt: skip
    found["sms.module"] = [
        get("sms.module", title=get(title(m.id)), score=f"{len(m.quiz)}/{len(m.quiz)}",
            takeaway=get(takeaway(m.id)))
        for m in course.modules
    ]  # fmt: skip
    found["sms.recall_end"] = [
        get("sms.recall_end", right=QUESTIONS, total=QUESTIONS, takeaway=get(takeaway(m.id)))
        for m in course.modules
    ]
    found["sms.recall_question"] = [
        get("sms.recall_question", n=QUESTIONS, total=QUESTIONS, question=get(f"course.{q.id}.q"),
            options="\n".join(f"{n}. {get(f'course.{q.id}.o{n}')}"
                              for n in range(1, len(q.answers) + 1)),
            choices=get(f"sms.recall_choices_{len(q.answers)}"))
        for m in course.modules for q in m.quiz
    ]  # fmt: skip
    return found
