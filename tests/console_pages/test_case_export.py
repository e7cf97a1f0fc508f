"""The case export: reporters' numbers, for admins only, logged."""

import pytest
from sqlalchemy import select

from app.infra.models import AuditEntry, Case

from ..helpers import ANONYMOUS, CALL, body, report

CALLABLE = ("+22376000901", "+22376000902")  # reporters who may be called back


@pytest.mark.parametrize(
    ("who", "status", "numbers"),
    [("admin", 200, True), ("national", 200, False), ("scoped", 200, False),
     ("viewer", 403, False)],
)  # fmt: skip
def test_each_reporters_number_exported_is_logged_and_only_admins_get_any(
    app, client, sign_in, who, status, numbers
):
    """An admin's export logs one line per case whose number it holds; nobody else gets one."""
    for phone, site in zip(CALLABLE, ("Massiogo", "Kalana"), strict=True):
        report(client, "2", *body(site), contact=CALL, phone=phone)  # "Oui, sans SMS"
    report(client, "2", *body("Fourou"), contact=ANONYMOUS, phone="+22376000903")  # anonymous
    email = sign_in(who, scope="cercle=kadiolo" if who == "scoped" else None)
    response = client.get("/console/cases/export.csv")
    assert response.status_code == status
    text = response.get_data(as_text=True)
    assert ("reporter_phone" in text.splitlines()[0]) is numbers
    assert all((phone[4:] in text) is numbers for phone in CALLABLE)  # in no form, for others
    with app.extensions["db"]() as db:
        callable_ = set(db.scalars(select(Case.reference).where(Case.reporter_phone.is_not(None))))
        logged = db.execute(select(AuditEntry.actor, AuditEntry.action, AuditEntry.target)
                            .where(AuditEntry.action.like("case%"))).all()  # fmt: skip
    assert len(callable_) == 2
    expected = {(email, "case.reporter_export", ref) for ref in callable_} if numbers else set()
    assert set(logged) - {(email, "cases.export", "3 cases")} == expected
    assert len(logged) == len(expected) + (status == 200)
