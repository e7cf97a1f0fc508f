"""The console's training page: what agents learn, module by module and per organisation."""

from flask import current_app, render_template

from app.training import funnel, report
from app.web.console.auth import requires
from app.web.console.blueprint import bp
from app.web.console.scope import inside
from app.web.db import get_db


@bp.get("/training")
@requires()
def training():
    """Show each module's funnel, time and recall, and the gain per organisation, in scope."""
    db = get_db()
    catalog = current_app.extensions["catalog"]
    course, place = catalog.course, inside()  # place None: the whole programme
    learners = report.learners(db, course, place)
    recall = {row["module"]: row for row in report.retention(db, course, place)}
    title = "course.{}.title".format
    modules = [{**row, "title": catalog.get(title(row["module"])), "recall": recall[row["module"]]}
               for row in funnel.modules(db, course, place)]  # fmt: skip
    return render_template(
        "console/training.html",
        modules=modules,
        organisations=report.organisations(learners),
        skippers=report.skippers(learners),
    )
