"""What the SMS tick's two table walks cost after a large campaign, with and without 0024.

Usage: python bench/tick.py [--machine] [--rows 1000000] [--repeat 5]
Seeds a campaign's worth of delivered SMS, each with its applied delivery report, plus a
few receipts and one report still waiting; then times the tick's sweep of waiting reports
(delivery.sweep) and its forgetting of receipts (outbox.forget_receipts), median of
--repeat runs, at the head revision and again at 0023 (before the partial indexes).
Results in bench/results/tick.json.
"""

import argparse
import statistics
import time
from datetime import UTC, datetime

from common import save, services
from sqlalchemy import text
from sqlalchemy.orm import Session

T = "2026-11-29 10:00:00"
NOW = datetime(2026, 11, 29, 11, tzinfo=UTC)


def seed(engine, rows: int) -> None:
    """Write rows delivered SMS with their applied reports, 10 receipts, 1 waiting report."""
    postgresql = engine.dialect.name == "postgresql"
    series = (
        f"generate_series(1, {rows}) AS n"
        if postgresql
        else f"(WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {rows})"
        " SELECT n FROM s)"
    )
    concat = "'ATX-' || n"
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO outbox (id, key, kind, urgent, phone, body, encoding, parts,"
                " estimated_cost, status, not_before, attempts, created_at, sent_at, provider,"
                " provider_id) SELECT n, 'c:' || n, 'campaign', false, '+22376000555', 'x',"
                f" 'GSM-7', 1, 25, 'delivered', '{T}', 1, '{T}', '{T}', 'africastalking',"
                f" {concat} FROM {series}"
            )
        )
        conn.execute(
            text(
                "INSERT INTO delivery_reports (provider_id, provider, status, applied,"
                f" received_at) SELECT {concat}, 'africastalking', 'Success', true, '{T}'"
                f" FROM {series}"
            )
        )
        for n in range(rows + 1, rows + 11):
            conn.execute(
                text(
                    "INSERT INTO outbox (id, key, kind, urgent, phone, body, encoding, parts,"
                    " estimated_cost, status, not_before, attempts, created_at, sent_at,"
                    f" provider, provider_id) VALUES ({n}, 'r:{n}', 'receipt', false,"
                    f" '+22376000555', 'x', 'GSM-7', 1, 25, 'sent', '{T}', 1, '{T}', '{T}',"
                    f" 'africastalking', 'ATX-{n}')"
                )
            )
        conn.execute(
            text(
                "INSERT INTO delivery_reports (provider_id, provider, status, applied,"
                f" received_at) VALUES ('ATX-unknown', 'africastalking', 'Success', false, '{T}')"
            )
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE" if postgresql else "ANALYZE"))


def timed(engine, repeat: int) -> dict:
    """Return the median milliseconds of the sweep and of the forgetting of receipts."""
    from app.messaging import delivery, outbox

    figures = {"sweep": [], "forget_receipts": []}
    for _ in range(repeat + 1):  # the first run compiles the statements: not counted
        with Session(engine) as db:
            started = time.perf_counter()
            delivery.sweep(db, NOW, 3)
            figures["sweep"].append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            # Far in the past: nothing is old enough to forget, so each run reads the same.
            outbox.forget_receipts(db, datetime(2026, 1, 1, tzinfo=UTC))
            figures["forget_receipts"].append((time.perf_counter() - started) * 1000)
    return {name: statistics.median(values[1:]) for name, values in figures.items()}


def main() -> None:
    from app.infra.db import make_engine
    from app.infra.migrate import downgrade, upgrade

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--machine", action="store_true", help="the machine's PostgreSQL")
    parser.add_argument("--database-url")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with services(None, args.database_url, args.machine) as (_, database_url, label):
        engine = make_engine(database_url)
        started = time.perf_counter()
        seed(engine, args.rows)
        print(f"seeded {args.rows:,} delivered SMS in {time.perf_counter() - started:.0f} s")
        results = {
            "label": label.rsplit(", ", 1)[-1],
            "rows": args.rows,
            "head": timed(engine, args.repeat),
        }
        downgrade(engine, "0023")
        results["0023"] = timed(engine, args.repeat)
        upgrade(engine)
        engine.dispose()
    label = results["label"]
    print(f"SMS tick after {args.rows:,} delivered SMS ({label}), ms, median of {args.repeat}:")
    print(f"{'walk':<18}{'0023':>10}{'head':>10}{'ratio':>8}")
    for name in ("sweep", "forget_receipts"):
        before, after = results["0023"][name], results["head"][name]
        print(f"{name:<18}{before:>10.2f}{after:>10.2f}{before / after:>8.1f}")
    save("tick", results)


if __name__ == "__main__":
    main()
