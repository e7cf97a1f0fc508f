"""Effects: what a flow asks the outside world to do, as plain values."""

from dataclasses import dataclass


@dataclass(frozen=True)
class SetLanguage:
    """Remember the caller's language on their contact record."""

    lang: str


@dataclass(frozen=True)
class SetName:
    """Remember the name an agent wants on their certificates."""

    name: str


@dataclass(frozen=True)
class SetCallHour:
    """Call the agent at this local hour for the next lesson, and for reminders instead of SMS.

    None: no more calls; reminders come by SMS again.
    """

    hour: int | None


@dataclass(frozen=True)
class SetData:
    """Keep a value in the session for later screens (the engine applies it)."""

    key: str
    value: object


@dataclass(frozen=True)
class SaveProgress:
    """Remember the screen a learner reached in a module."""

    module: str
    position: str


@dataclass(frozen=True)
class RecordAnswer:
    """Keep one quiz answer; only the first answer per question and attempt counts."""

    module: str
    question: str
    attempt: int
    choice: int
    correct: bool


@dataclass(frozen=True)
class FinishModule:
    """Close a quiz attempt with its score; the web layer decides pass or fail."""

    module: str
    attempt: int
    score: int
    total: int


@dataclass(frozen=True)
class RecallAnswer:
    """Keep one answer of a recall quiz; the first per question counts, by USSD or SMS."""

    module: str
    question: str
    choice: int
    correct: bool


@dataclass(frozen=True)
class PostponeRecall:
    """Offer the recall quizzes due again tomorrow rather than now (module: the one offered)."""

    module: str


@dataclass(frozen=True)
class Enrol:
    """Make the caller an agent of an organisation, after a valid organisation code."""

    organisation: str


@dataclass(frozen=True)
class OpenCase:
    """Open a case from a finished report, under the reference shown to the reporter."""

    reference: str
    answers: tuple  # (field, value) pairs


@dataclass(frozen=True)
class MoveCase:
    """Move a case on from the agent desk; the web layer checks the caller may."""

    reference: str
    status: str  # the next state, or FOLLOW_UP to record a follow-up visit
    note: str = ""
    service: str | None = None  # where the case is referred, when status is "referred"
