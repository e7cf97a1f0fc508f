"""Case references: six digits, drawn free of any case, never a stranger's report's."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from app import cases
from app.infra import codes
from app.infra.models import Case, CaseEvent

from .helpers import OLD_ANSWERS, OLD_REFERENCE, REPORTER, file_old_report

NOW = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("drawn", "code"), [(0, "100000"), (899_999, "999999"), (382_913, "482913")]
)
def test_digits_never_start_with_a_zero(monkeypatch, drawn, code):
    """A spreadsheet reads 048213 as 48213: the first digit is never 0."""
    monkeypatch.setattr(codes.secrets, "randbelow", lambda n: min(drawn, n - 1))
    assert codes.digits(6) == code


def test_a_reference_is_six_digits():
    drawn = {cases.new_reference() for _ in range(200)}
    assert all(len(r) == 6 and r.isdigit() and r[0] != "0" for r in drawn)
    assert len(drawn) > 190  # drawn at random, not one after the other


def test_a_taken_reference_is_drawn_again_and_the_draws_are_bounded(app, monkeypatch):
    file_old_report(app)
    draws = iter([OLD_REFERENCE, OLD_REFERENCE, "482913"])
    monkeypatch.setattr(cases, "new_reference", lambda: next(draws))
    with app.extensions["db"]() as db:
        assert cases.fresh_reference(db) == "482913"
        monkeypatch.setattr(cases, "new_reference", lambda: OLD_REFERENCE)
        with pytest.raises(RuntimeError, match=f"no free reference in {cases.DRAWS} draws"):
            cases.fresh_reference(db)


def answers(**changed) -> dict:
    """The answers file_old_report files, with some changed."""
    return {**OLD_ANSWERS, **changed}


@pytest.mark.parametrize(
    ("sent", "repeat"),
    [
        (answers(), True),  # the reporter's own report again: the first reference
        (answers(place="fourou", receipt=True), True),  # the site's case and a receipt aside
        (answers(urgent=True), True),  # its case may have become urgent since
        (answers(place="Kalana"), False),  # another report drew the same reference at once
        (answers(hazard="pits"), False),
        (answers(contactable=True), False),
    ],
)
def test_a_reference_taken_meanwhile_never_files_a_report_as_a_repeat(app, sent, repeat):
    """Drawn free, then filed by a report sent at the same moment: this one is not lost."""
    file_old_report(app)
    with app.app_context(), app.extensions["db"]() as db:
        filing = (db, app.config, app.extensions["catalog"], REPORTER, OLD_REFERENCE, sent, NOW)
        if repeat:
            case, new = cases.file_report(*filing)
            assert (case.reference, new) == (OLD_REFERENCE, False)
        else:
            with pytest.raises(cases.ReferenceTaken):
                cases.file_report(*filing)
        db.rollback()
        assert db.scalars(select(Case.reference)).all() == [OLD_REFERENCE]
        assert len(db.scalars(select(CaseEvent)).all()) == 1  # opened, nothing more kept
