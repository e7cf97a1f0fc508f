"""The console's dashboard: training, reports, cases and campaigns at a glance."""

from datetime import timedelta

from flask import current_app, render_template
from sqlalchemy import func, select

from .. import campaigns as campaigns_
from .. import charts, report
from ..db import get_db
from ..focal_points import DESK
from ..models import Campaign, Case, Certificate, ModuleProgress, utcnow
from . import bp
from .auth import requires
from .cases import visible


@bp.get("/dashboard")
@requires()
def dashboard():
    """Show the programme at a glance, within the user's scope for cases."""
    db = get_db()
    catalog = current_app.extensions["catalog"]
    course = catalog.course
    t = catalog.get
    passed = dict(
        db.execute(
            select(ModuleProgress.module, func.count())
            .where(ModuleProgress.status == "passed")
            .group_by(ModuleProgress.module)
        ).all()
    )
    trained = [(t(f"course.{m.id}.title"), passed.get(m.id, 0)) for m in course.modules]
    by_status = dict(
        db.execute(
            visible(select(Case.status, func.count()).where(Case.linked_to.is_(None))).group_by(
                Case.status
            )
        ).all()
    )
    statuses = [(t(f"console.status.{s}"), by_status.get(s, 0)) for s in DESK]
    by_cercle = db.execute(
        visible(select(Case.cercle, func.count()))
        .group_by(Case.cercle)
        .order_by(func.count().desc())
    ).all()
    cercles = [(t(f"report.cercle.{c or 'unknown'}"), n) for c, n in by_cercle[:12]]
    now = utcnow()
    overdue = db.scalar(
        visible(select(func.count()).select_from(Case)).where(
            Case.status.in_(("new", "verifying")), Case.verify_by < now
        )
    )
    learners = report.learners(db, course)
    gains = [row["gain"] for row in learners if row["gain"] != ""]
    started = dict(
        db.execute(
            select(ModuleProgress.module, func.count()).group_by(ModuleProgress.module)
        ).all()
    )
    pass_rate = [
        (t(f"course.{m.id}.title"), round(100 * passed.get(m.id, 0) / started[m.id]))
        for m in course.modules
        if started.get(m.id)
    ]
    by_org: dict[str, list[int]] = {}
    for row in learners:
        if row["gain"] != "":
            by_org.setdefault(row["organisation"] or "—", []).append(row["gain"])
    org_gain = [(org, round(sum(v) / len(v))) for org, v in sorted(by_org.items())]
    asked = [q for q in report.questions(db, course, catalog) if q["answered"]]
    hardest = sorted(asked, key=lambda q: (q["first_try_percent"], -q["answered"]))[:5]
    certified = _by_month(db, Certificate.issued_at, None)
    reported = _by_month(db, Case.created_at, visible)
    campaigns = []
    for campaign in db.scalars(select(Campaign).order_by(Campaign.id.desc()).limit(8)):
        progress = campaigns_.progress(db, campaign.id)
        total, delivered = progress["total"], progress["delivered"]
        campaigns.append(
            {"name": campaign.name, "status": campaign.status, "total": total,
             "rate": round(100 * delivered / total) if total else 0,
             "cost": campaign.estimated_cost}
        )  # fmt: skip
    return render_template(
        "console/dashboard.html",
        trained=charts.bars(trained, title=t("console.dashboard.trained")),
        pass_rate=charts.bars(pass_rate, unit=" %", title=t("console.dashboard.pass_rate")),
        org_gain=charts.bars(org_gain, unit=" pts", title=t("console.dashboard.org_gain")),
        certified=charts.bars(certified, title=t("console.dashboard.certified")),
        reported=charts.bars(reported, title=t("console.dashboard.reported")),
        hardest=[
            {
                **q,
                "text": t(f"course.{q['question']}.q")
                if catalog.has(f"course.{q['question']}.q")
                else q["question"],
            }
            for q in hardest
        ],  # fmt: skip
        statuses=charts.bars(statuses, title=t("console.dashboard.open_cases")),
        cercles=charts.bars(cercles, title=t("console.dashboard.by_cercle")),
        overdue=overdue,
        learners=len(learners),
        gain=round(sum(gains) / len(gains)) if gains else None,
        campaigns=campaigns,
        cases_total=db.scalar(
            visible(select(func.count()).select_from(Case)).where(Case.linked_to.is_(None))
        ),
    )


def _by_month(db, column, narrow) -> list[tuple[str, int]]:
    """Count rows per month over the last 12 months, oldest first."""
    now = utcnow()
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    year, month = divmod(first.year * 12 + first.month - 1 - 11, 12)
    since = first.replace(year=year, month=month + 1)  # the first day, 11 months back
    query = select(column).where(column >= since)
    if narrow is not None:
        query = narrow(query)
    counts: dict[str, int] = {}
    for (moment,) in db.execute(query):
        counts[f"{moment:%Y-%m}"] = counts.get(f"{moment:%Y-%m}", 0) + 1
    months, cursor = [], since
    while cursor <= now:
        months.append(f"{cursor:%Y-%m}")
        cursor = (cursor + timedelta(days=32)).replace(day=1)
    return [(month, counts.get(month, 0)) for month in months]
