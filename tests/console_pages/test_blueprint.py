"""The console's template helpers: counts in the singular or plural, phone labels spelt in full."""

import re

import pytest
from sqlalchemy import update

from app.infra.models import Case
from app.web.console.blueprint import count, plural, spelt

from ..helpers import ANONYMOUS, CALM, page, report

PLACEHOLDER = re.compile(r"\$(\w+)")


@pytest.mark.parametrize(
    ("n", "form"), [(0, "one"), (1, "one"), (1.5, "one"), (-1, "one"), (2, "other"),
                    (-2, "other"), (10001, "other")],
)  # fmt: skip
def test_french_takes_the_singular_up_to_one(n, form):
    """0 dossier, 1 dossier, 2 dossiers: French counts zero as one."""
    assert plural(n) == form


def test_count_fills_the_form_that_suits_the_number(app):
    with app.test_request_context():
        assert [count("console.count.cases", n) for n in (0, 1, 2)] == [
            "0 dossier", "1 dossier", "2 dossiers"]  # fmt: skip
        assert count("console.count.points", -3, n="-3") == "-3 pts"
        assert count("console.count.points", 1, n="+1") == "+1 pt"


def test_every_count_of_the_console_copy_has_both_forms(app):
    """Each key.one has its key.other with the same placeholders, and the reverse."""
    texts = app.extensions["catalog"].texts["fr"]
    ones = {k[: -len(".one")] for k in texts if k.startswith("console.") and k.endswith(".one")}
    others = {k[: -len(".other")] for k in texts if k.startswith("console.")
              and k.endswith(".other")}  # fmt: skip
    assert ones and ones == others
    for key in ones:
        one, other = texts[f"{key}.one"], texts[f"{key}.other"]
        assert set(PLACEHOLDER.findall(one)) == set(PLACEHOLDER.findall(other)), key
        assert "n" in PLACEHOLDER.findall(one), key


def test_phone_labels_are_spelt_in_full_on_pages(app, client, sign_in):
    """Phones read "Garcons" and "Boeufs" (GSM-7 has no ç or œ); the case page does not."""
    with app.test_request_context():
        assert spelt("report.sex.boys") == "Garçons"
        assert spelt("report.sector.cotton") == "Coton"  # the same on both: the phone's copy
    _, done = report(client, *CALM, contact=ANONYMOUS)
    reference = done.split("Référence : ")[1][:6]
    with app.extensions["db"]() as db:
        changed = {"sex": "boys", "hazard": "animals"}
        db.execute(update(Case).where(Case.reference == reference).values(**changed))
        db.commit()
    sign_in("admin")
    shown = page(client.get(f"/console/cases/{reference}"))
    assert "<td>Garçons</td>" in shown and "<td>Bœufs, outils, machines</td>" in shown
    assert "Garcons" not in shown and "Boeufs" not in shown
    assert "<td>Orpaillage / site minier</td>" in shown
