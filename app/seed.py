"""Seed the demo contacts that let someone new try Kalan in the simulator."""

from pathlib import Path

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from .contacts import normalize
from .models import ROLES, Contact

DEMO = Path(__file__).resolve().parent.parent / "sandbox" / "demo.yaml"


def seed(db: Session, path: Path = DEMO) -> int:
    """Add the demo contacts that are missing; return how many were added.

    Existing contacts are left untouched, so seeding twice changes nothing.
    """
    rows = yaml.safe_load(path.read_text(encoding="utf-8"))["contacts"]
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
    db.commit()
    return added
