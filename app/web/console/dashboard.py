"""The console's dashboard: training, reports, cases, campaigns and costs at a glance."""

from datetime import datetime, timedelta

from flask import current_app, g, render_template, request
from markupsafe import Markup
from redis.exceptions import RedisError
from sqlalchemy import func, select

from app.cases.focal_points import DESK
from app.infra.models import Campaign, Case, Certificate, Contact, ModuleProgress, utcnow
from app.messaging import balance, outbox
from app.messaging.campaigns import lifecycle
from app.training import report
from app.voice import budget, calls
from app.web.console import charts
from app.web.console.auth import requires
from app.web.console.blueprint import bp, label
from app.web.console.campaigns import listed
from app.web.console.cases import visible
from app.web.console.scope import inside
from app.web.db import get_read_db
from flows.desk import TO_VERIFY

SERIES = 6  # lines on one chart; the rest are summed into "others"
WHOLE = frozenset({"XOF", "XAF", "GNF", "JPY", "KRW"})  # currencies with no cents
PERIODS = (7, 30, 90, 365)  # days the costs can be summed over; the second is the default


@bp.get("/dashboard")
@requires()
def dashboard():
    """Show the programme at a glance, within the user's scope, from the read replica if any."""
    db = get_read_db()
    months = _months(utcnow())
    return render_template(
        "console/dashboard.html",
        **_training(db, months),
        **_cases(db, months),
        campaigns=_campaigns(db),
        # Costs are the programme's: a user kept to an area sees none (a call may have no phone).
        spend=None if g.user.scope else _spend(db, utcnow()),
        balances=None if g.user.scope else _balances(),
    )


def _balances() -> list[dict]:
    """The last reading of each provider's SMS bundles that the worker could take."""
    config, redis = current_app.config, current_app.extensions["redis"]
    found = []
    for name in current_app.extensions["gateways"]:
        reading = balance.last(redis, config["REDIS_PREFIX"], name)
        if reading is not None:
            found.append({"provider": name, **reading})
    return found


def _bars(rows: list, key: str, unit: str = "") -> Markup:
    """Return a bar chart titled console.dashboard.<key>, which says so when it has no data."""
    t = current_app.extensions["catalog"].get
    title, empty = t(f"console.dashboard.{key}"), t("console.dashboard.empty")
    return charts.bars(rows, unit=unit, title=title, empty=empty)


def _training(db, months: list[datetime]) -> dict:
    """Charts of the training, counting only the learners inside the user's scope."""
    catalog = current_app.extensions["catalog"]
    course, t = catalog.course, catalog.get
    place = inside()  # None: the whole programme
    by_learner = _of(ModuleProgress.contact_id, place)
    passed = _count_by(
        db, ModuleProgress.module, ModuleProgress.status == "passed", narrow=by_learner
    )
    started = _count_by(db, ModuleProgress.module, narrow=by_learner)
    learners = report.learners(db, course, place)
    summary = report.gain_summary(learners)
    no_org = t("console.dashboard.no_org")
    gains: dict[str, list[int]] = {}
    modules: dict[str, list[int]] = {}  # organisation: [modules passed, modules started]
    for row in learners:
        org = row["organisation"] or no_org
        if row["gain"] != "":
            gains.setdefault(org, []).append(row["gain"])
        counts = modules.setdefault(org, [0, 0])
        counts[0], counts[1] = counts[0] + row["passed"], counts[1] + row["started"]
    certified = select(Certificate.issued_at, Contact.organisation).join(
        Contact, Contact.id == Certificate.contact_id
    )
    if place is not None:
        certified = certified.where(place)
    title = {m.id: t(f"course.{m.id}.title") for m in course.modules}
    asked = [q for q in report.questions(db, course, catalog, place) if q["answered"]]
    hardest = sorted(asked, key=lambda q: (q["first_try_percent"], -q["answered"]))[:5]
    key = "course.{}.q".format
    question = {
        q["question"]: t(key(q["question"])) for q in hardest if catalog.has(key(q["question"]))
    }
    return {
        "learners": len(learners),
        "gain": summary["gain"],
        "skipped": summary["skipped"],  # agents left out of the gain: no pre-test first
        "trained": _bars(
            [(title[m.id], passed.get(m.id, 0)) for m in course.modules], "trained"
        ),
        "trained_lines": _lines(
            months, _series(db, certified, months, lambda org: org or no_org, running=True),
            "trained_lines",
        ),
        "certified": _bars(
            _by_month(db, Certificate.issued_at, months, _of(Certificate.contact_id, place)),
            "certified",
        ),
        "pass_rate": _bars(
            [(title[m.id], round(100 * passed.get(m.id, 0) / started[m.id]))
             for m in course.modules if started.get(m.id)],
            "pass_rate", " %",
        ),
        "org_pass": _bars(
            [(org, round(100 * p / n)) for org, (p, n) in sorted(modules.items()) if n],
            "org_pass", " %",
        ),
        "org_gain": _bars(
            [(org, round(sum(v) / len(v))) for org, v in sorted(gains.items())], "org_gain", " pts"
        ),
        "hardest": [{**q, "text": question.get(q["question"], q["question"])} for q in hardest],
    }  # fmt: skip


def _cases(db, months: list[datetime]) -> dict:
    """Charts of reports and cases, counting only what the user may see."""
    t = current_app.extensions["catalog"].get
    by_status = _count_by(db, Case.status, Case.linked_to.is_(None), narrow=visible)
    by_cercle = _count_by(db, Case.cercle, narrow=visible)
    cercles = sorted(by_cercle.items(), key=lambda item: -item[1])[:12]
    sectors = sorted(_count_by(db, Case.sector, narrow=visible).items(), key=lambda i: -i[1])
    place = visible(select(Case.created_at, Case.cercle).where(Case.created_at >= months[0]))
    return {
        "cases_total": sum(by_status.values()),
        "overdue": db.scalar(
            visible(select(func.count()).select_from(Case)).where(
                Case.status.in_(TO_VERIFY), Case.verify_by < utcnow()
            )
        ),
        "statuses": _bars([(t(f"console.status.{s}"), by_status.get(s, 0)) for s in DESK],
                          "open_cases"),
        "cercles": _bars([(_cercle(c), n) for c, n in cercles], "by_cercle"),
        "sectors": _bars([(label(f"report.sector.{s}", s or "?"), n) for s, n in sectors],
                         "by_sector"),
        "reported": _bars(_by_month(db, Case.created_at, months, visible), "reported"),
        "cercle_lines": _lines(
            months, _series(db, place, months, _cercle, running=False), "cercle_lines"
        ),
    }  # fmt: skip


def _campaigns(db) -> list[dict]:
    """The last campaigns with their delivery rate and estimated cost."""
    currency = current_app.config["SMS_PART_COST"].split()[0]
    rows = []
    for campaign in db.scalars(listed(select(Campaign)).order_by(Campaign.id.desc()).limit(8)):
        progress = lifecycle.progress(db, campaign.id)
        total, delivered = progress["total"], progress["delivered"]
        rows.append(
            {"id": campaign.id, "name": campaign.name, "status": campaign.status, "total": total,
             "rate": round(100 * delivered / total) if total else 0,
             "cost": _money(currency, campaign.estimated_cost)}
        )  # fmt: skip
    return rows


def _spend(db, now: datetime) -> dict:
    """What SMS and calls cost over the chosen period, per currency, and today's call budget."""
    raw = request.args.get("period", "")
    days = int(raw) if raw.isdigit() and int(raw) in PERIODS else PERIODS[1]
    start = now - timedelta(days=days)
    sms = outbox.spend(db, start, now)
    voice = calls.spend(db, start, now)
    priced = {row["currency"]: row for row in voice if row["currency"]}
    rows = []
    for currency in sorted(set(sms) | set(priced)):
        sent, sms_cost = sms.get(currency, (0, 0))
        call = priced.get(currency, {"calls": 0, "seconds": 0, "amount": 0})
        rows.append(
            {"currency": currency, "sms": sent, "sms_cost": _money(currency, sms_cost),
             "calls": call["calls"], "minutes": _minutes(call["seconds"]),
             "call_cost": _money(currency, call["amount"]),
             "total": _money(currency, sms_cost + call["amount"])}
        )  # fmt: skip
    unpriced = next((row for row in voice if not row["currency"]), None)
    config, redis = current_app.config, current_app.extensions["redis"]
    try:
        placed, refused = budget.today(redis, config["REDIS_PREFIX"], config, now)
    except RedisError:  # the costs are in the database: show them all the same
        current_app.logger.warning("the day's call budget is unknown: Redis did not answer")
        placed = refused = None
    return {
        "days": days,
        "periods": PERIODS,
        "rows": rows,
        "unpriced": unpriced["calls"] if unpriced else 0,
        "placed": placed,
        "refused": refused,
        "budget": config["VOICE_DAILY_BUDGET"],
    }


def _money(currency: str, amount) -> str:
    """Write an amount as the dashboard does: XOF 12 500, EUR 3.25 (cents where they exist)."""
    places = 0 if currency in WHOLE else 2
    return f"{currency} {amount:,.{places}f}".replace(",", " ")


def _minutes(seconds: int) -> str:
    """Write seconds as minutes to the tenth, with a decimal comma: 12,5."""
    return f"{seconds / 60:.1f}".replace(".", ",")


def _of(contact_id, place):
    """Return a narrow for _count_by: rows whose contact is inside place (None: every row)."""
    if place is None:
        return None
    return lambda query: query.join(Contact, Contact.id == contact_id).where(place)


def _cercle(code: str | None) -> str:
    """Return a cercle's name from its code."""
    return label(f"report.cercle.{code or 'unknown'}", code or "?")


def _count_by(db, column, *where, narrow=None) -> dict:
    """Count rows per value of column, optionally filtered and narrowed to the user's scope."""
    query = select(column, func.count()).where(*where).group_by(column)
    return dict(db.execute(narrow(query) if narrow else query).all())


def _months(now: datetime) -> list[datetime]:
    """Return the first instant of each of the last 12 months, oldest first."""
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    year, month = divmod(first.year * 12 + first.month - 1 - 11, 12)
    cursor, months = first.replace(year=year, month=month + 1), []
    while cursor <= now:
        months.append(cursor)
        cursor = (cursor + timedelta(days=32)).replace(day=1)
    return months


def _lines(months: list[datetime], series: list, key: str) -> Markup:
    """Return a line chart over the months, followed by its figures as a folded table."""
    t = current_app.extensions["catalog"].get
    labels = [f"{m:%m/%y}" for m in months]
    title, empty = t(f"console.dashboard.{key}"), t("console.dashboard.empty")
    chart = charts.lines(labels, series, title=title, empty=empty)
    return chart + (charts.table(labels, series, t("console.dashboard.figures")) if series else "")


def _by_month(db, column, months, narrow=None) -> list[tuple[str, int]]:
    """Count rows per month since months[0], oldest first."""
    query = select(column).where(column >= months[0])
    counts: dict[str, int] = {}
    for (moment,) in db.execute(narrow(query) if narrow else query):
        counts[f"{moment:%Y-%m}"] = counts.get(f"{moment:%Y-%m}", 0) + 1
    return [(f"{m:%Y-%m}", counts.get(f"{m:%Y-%m}", 0)) for m in months]


def _series(db, query, months, name, running: bool) -> list[tuple[str, list[int]]]:
    """Count (moment, key) rows per name(key) and month: the busiest, the rest as others.

    running counts everything up to each month (agents trained so far), so rows from
    before the window count in its first month.
    """
    index = {f"{m:%Y-%m}": n for n, m in enumerate(months)}
    counts: dict[str, list[int]] = {}
    for moment, key in db.execute(query):
        column = 0 if moment < months[0] else index.get(f"{moment:%Y-%m}")
        if column is not None:
            counts.setdefault(name(key), [0] * len(months))[column] += 1
    if running:
        for row in counts.values():
            for n in range(1, len(row)):
                row[n] += row[n - 1]
    busiest = sorted(counts.items(), key=lambda item: (-item[1][-1] if running else
                                                       -sum(item[1]), item[0]))  # fmt: skip
    if len(busiest) <= SERIES + 1:  # one more line beats an "others" of one
        return busiest
    rest = [values for _, values in busiest[SERIES:]]
    others = current_app.extensions["catalog"].get("console.dashboard.others")
    return [*busiest[:SERIES], (others, [sum(column) for column in zip(*rest, strict=True)])]
