"""Realistic USSD journeys for the benchmarks: what callers type, hop by hop."""

# The callers are known contacts (agents and community members already imported),
# calling for the first time today: the first hop reads their profile once.
#
# Each journey is a list of sessions; each session a list of (input, kind). The
# first hop of a session has the input "" (the dial). Kinds say what the hop does:
#   first    the dial: a new session (the first of the day reads the profile)
#   nav      a menu choice, or the next question: navigation only
#   lesson   the next lesson screen: the place in the module is kept
#   answer   a quiz answer, recorded
#   gate     a door that checks the database first (Signaler: today's reports)
#   save     the last hop of a report: the case is written
#   resume   the answer to "Reprendre ?"

TRAINING = [
    [("", "first"), ("1", "nav"), ("1", "nav"), *[("1", "lesson")] * 6,
     ("1", "answer"), ("1", "nav"), ("2", "answer"), ("1", "nav"), ("1", "answer"),
     ("1", "nav"), ("2", "answer"), ("1", "nav"), ("1", "answer")],
]  # fmt: skip

# Mercury, a danger that cannot be immediate: 12 answers, as before "Danger maintenant ?".
REPORT = [
    [("", "first"), ("2", "gate"), ("1", "nav"), ("1", "nav"), ("2", "nav"),
     ("Massiogo", "nav"), ("2", "nav"), ("2", "nav"), ("1", "nav"), ("2", "nav"), ("3", "nav"),
     ("2", "nav"), ("1", "save")],
]  # fmt: skip

# The call drops in the middle of the lessons; the caller dials again and resumes.
RESUMED = [
    [("", "first"), ("1", "nav"), ("1", "nav"), ("1", "lesson"), ("1", "lesson"),
     ("1", "lesson")],
    [("", "first"), ("1", "resume"), ("1", "lesson"), ("1", "lesson"), ("1", "lesson")],
]  # fmt: skip

# Menus only, no SQL after the dial: Compte / Aide, its help paged and back, the about
# page, Formation's how-to, back to the main menu; twice. Measures the cheapest hop
# (`ratio navigation`); not part of the realistic mix.
BROWSE = ["5", "4", "99", "0", "0", "5", "99", "00", "1", "4", "0", "00"]
NAVIGATION = [[("", "first"), *[(value, "nav") for value in BROWSE * 2]]]

JOURNEYS = {"training": TRAINING, "report": REPORT, "resumed": RESUMED}
OTHERS = {"navigation": NAVIGATION}
# What each journey's last screen must show, so a bench never measures a detour.
ENDS = {"training": "Voir mon score", "report": "Référence", "resumed": "Q1/5",
        "navigation": "Menu principal"}  # fmt: skip


def texts(session: list[tuple[str, str]]) -> list[str]:
    """Return the `text` field of each hop: the inputs so far, joined by "*"."""
    typed, out = [], []
    for value, _ in session:
        if value:
            typed.append(value)
        out.append("*".join(typed))
    return out


def phone(run: int, thread: int, n: int) -> str:
    """Return the n-th caller of wrk thread 0 or 1 in a run (sessions.lua spells it the same)."""
    return f"+2237{(2 * run + thread % 2) % 100:02d}{n % PER_THREAD:05d}"


# Callers per wrk thread and run: more journeys than a run plays (about 1,000 journeys
# in 10 s at 2,000 hops a second). Each measurement of Kalan has a run of its own, so
# that its callers start fresh: RUNS bounds the rounds of bench/throughput.py.
PER_THREAD = 2500
RUNS = 20


def seed(database_url: str) -> None:
    """Add every caller a run may use, as known French-speaking community members."""
    from sqlalchemy import insert

    from app.infra.db import make_engine
    from app.infra.models import Contact, utcnow

    engine, now = make_engine(database_url), utcnow()
    with engine.begin() as conn:
        for run in range(RUNS):
            # Community members: an agent's first Formation is the pre-test, not a lesson.
            rows = [{"phone": phone(run, t, n), "role": "community", "language": "fr",
                     "failed_streak": 0, "created_at": now}
                    for t in range(2) for n in range(PER_THREAD)]  # fmt: skip
            conn.execute(insert(Contact), rows)
    engine.dispose()
