"""Certificates: issued once every module is passed, verified by their code."""

import re
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.infra import codes
from app.infra.models import Certificate, Contact, ModuleProgress
from app.messaging import outbox
from flows import Catalog

# Letters and digits that cannot be misread for one another on a small screen.
CODE_LENGTH = 8


def certify(
    db: Session, config: Mapping, catalog: Catalog, contact: Contact, now: datetime
) -> Certificate | None:
    """Issue the agent's certificate once every module is passed, and queue its SMS."""
    course = catalog.course
    rows = {
        r.module: r
        for r in db.scalars(select(ModuleProgress).where(ModuleProgress.contact_id == contact.id))
    }
    if not course.modules or any(
        rows.get(m.id) is None or rows[m.id].status != "passed" for m in course.modules
    ):
        return None
    existing = db.scalars(select(Certificate).where(Certificate.contact_id == contact.id)).first()
    if existing:
        return existing
    certificate = Certificate(
        contact_id=contact.id,
        code=codes.draw(CODE_LENGTH),
        modules=len(course.modules),
        score=sum(rows[m.id].best_score or 0 for m in course.modules),
        questions=sum(len(m.quiz) for m in course.modules),
        issued_at=now,
    )
    db.add(certificate)
    text = catalog.get(
        "sms.certificate",
        contact.language or "fr",
        name=contact.name or "",
        modules=certificate.modules,
        code=certificate.code,
    )
    outbox.add(db, config, "certificate", contact.id, contact.phone, re.sub(r" {2,}", " ", text))
    return certificate


def verify(db: Session, code: str) -> dict | None:
    """Return who holds the certificate with this code, when, and with what score."""
    code = code.strip().upper()
    found = db.execute(
        select(Certificate, Contact)
        .join(Contact, Contact.id == Certificate.contact_id)
        .where(Certificate.code == code)
    ).first()
    if found is None:
        return None
    certificate, contact = found
    return {
        "code": certificate.code,
        "name": contact.name,
        "phone": contact.phone,
        "organisation": contact.organisation,
        "issued_at": certificate.issued_at,
        "score": certificate.score,
        "questions": certificate.questions,
        "modules": certificate.modules,
    }
