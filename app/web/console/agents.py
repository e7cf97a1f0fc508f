"""Console agent pages: each agent's training status, and certificate verification."""

from flask import current_app, g, render_template, request
from sqlalchemy import select

from app.infra.models import Certificate, Contact
from app.training import report
from app.training.certificate import verify as verify_certificate
from app.web.console.auth import requires
from app.web.console.blueprint import bp
from app.web.console.scope import inside, narrow
from app.web.db import get_db


@bp.get("/agents")
@requires()
def agents():
    """List the agents with their training: modules passed, score, gain, certificate."""
    db = get_db()
    course = current_app.extensions["catalog"].course
    query = narrow(select(Contact).where(Contact.role == "agent"))
    people = list(db.scalars(query.order_by(Contact.organisation, Contact.name, Contact.phone)))
    # The area's learners only: the page lists no one else, so why count them.
    learners = report.learners(db, course, inside())
    progress = {row["phone"]: row for row in learners}
    codes = dict(db.execute(select(Certificate.contact_id, Certificate.code)).all())
    rows = [
        {"contact": c, "progress": progress.get(c.phone, {}), "certificate": codes.get(c.id)}
        for c in people
    ]
    return render_template("console/agents.html", rows=rows, modules=len(course.modules),
                           summary=report.gain_summary(learners))  # fmt: skip


@bp.get("/certificates")
@requires()
def certificate():
    """Check a certificate code: who holds it, since when, with what score."""
    code = request.args.get("code", "").strip()[:16]
    found = verify_certificate(get_db(), code) if code else None
    if found and g.user.scope:  # a holder outside the user's area is not shown to them
        holder = narrow(select(Contact.id).where(Contact.phone == found["phone"]))
        found = found if get_db().scalar(holder) else None
    return render_template("console/certificate.html", code=code, found=found)
