"""Realistic USSD journeys for the benchmarks: what new callers type, hop by hop.

Each journey is a list of sessions; each session a list of (input, kind). The
first hop of a session has the input "" (the dial). Kinds say what the hop does:
  first    the dial: a new session (a new caller, or one coming back)
  profile  the language choice of a new caller: the contact is written
  nav      a menu choice, or the next question: navigation only
  lesson   the next lesson screen: the place in the module is kept
  answer   a quiz answer, recorded
  gate     a door that checks the database first (Signaler: today's reports)
  save     the last hop of a report: the case is written
  resume   the answer to "Reprendre ?"
"""

TRAINING = [
    [("", "first"), ("1", "profile"), ("1", "nav"), ("1", "lesson"),
     *[("1", "lesson")] * 5, ("1", "lesson"),
     ("1", "answer"), ("1", "nav"), ("2", "answer"), ("1", "nav"), ("1", "answer"),
     ("1", "nav"), ("2", "answer"), ("1", "nav"), ("1", "answer")],
]  # fmt: skip

REPORT = [
    [("", "first"), ("1", "profile"), ("2", "gate"), ("1", "nav"), ("1", "nav"), ("2", "nav"),
     ("Massiogo", "nav"), ("2", "nav"), ("2", "nav"), ("1", "nav"), ("2", "nav"), ("1", "nav"),
     ("3", "nav"), ("1", "save")],
]  # fmt: skip

# The call drops in the middle of the lessons; the caller dials again and resumes.
RESUMED = [
    [
        ("", "first"),
        ("1", "profile"),
        ("1", "nav"),
        ("1", "lesson"),
        ("1", "lesson"),
        ("1", "lesson"),
    ],
    [("", "first"), ("1", "resume"), ("1", "lesson"), ("1", "lesson"), ("1", "lesson")],
]

JOURNEYS = {"training": TRAINING, "report": REPORT, "resumed": RESUMED}
# What each journey's last screen must show, so a bench never measures a detour.
ENDS = {"training": "Voir mon score", "report": "Référence", "resumed": "Passer au quiz"}


def texts(session: list[tuple[str, str]]) -> list[str]:
    """Return the `text` field of each hop: the inputs so far, joined by "*"."""
    typed, out = [], []
    for value, _ in session:
        if value:
            typed.append(value)
        out.append("*".join(typed))
    return out
