"""Seed the demo contacts that let someone new try Kalan in the simulator."""

from pathlib import Path

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.cases import focal_points
from app.infra.models import ROLES, Contact
from app.people.contacts import normalize

DEMO = Path(__file__).resolve().parent / "demo.yaml"


def seed(db: Session, path: Path = DEMO) -> tuple[int, int]:
    """Add the demo contacts and focal points that are missing; return how many of each.

    Existing ones are left untouched, so seeding twice changes nothing.
    """
    demo = yaml.safe_load(path.read_text(encoding="utf-8"))
    added = _contacts(db, demo["contacts"], path)
    points = 0
    for row in demo.get("focal_points", ()):
        if focal_points.find(db, normalize(row["phone"])) is None:
            focal_points.add(db, normalize(row["phone"]), row["area"], row["role"], row["pin"])
            points += 1
    db.commit()
    return added, points


def _contacts(db: Session, rows: list, path: Path) -> int:
    known = set(db.scalars(select(Contact.phone)))
    added = 0
    for row in rows:
        phone = normalize(row["phone"])
        if phone is None or row["role"] not in ROLES:
            raise ValueError(f"{path.name}: bad demo contact {row!r}")
        if phone in known:
            continue
        db.add(
            Contact(
                phone=phone,
                role=row["role"],
                name=row.get("name"),
                organisation=row.get("organisation"),
                cercle=row.get("cercle"),
                language="fr",
            )
        )
        known.add(phone)
        added += 1
    return added
