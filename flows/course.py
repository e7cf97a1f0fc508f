"""The course as data: modules of lesson screens, a quiz and a takeaway."""

from dataclasses import dataclass
from itertools import chain


@dataclass(frozen=True)
class Answer:
    """One option of a quiz question, with the feedback it earns."""

    correct: bool


@dataclass(frozen=True)
class Question:
    """A multiple-choice question; its texts live in the catalog under its id."""

    id: str
    answers: tuple[Answer, ...]

    @property
    def right(self) -> int:
        """Return the 1-based number of the correct option."""
        return next(n for n, a in enumerate(self.answers, 1) if a.correct)


@dataclass(frozen=True)
class Module:
    """A module: lesson screens, a quiz, and who may take it."""

    id: str
    audience: str  # "all" or "agents"
    lessons: int
    quiz: tuple[Question, ...]


@dataclass(frozen=True)
class Course:
    """Every module in order, and the pre/post-test: its item ids and its own questions."""

    modules: tuple[Module, ...] = ()
    pretest: tuple[str, ...] = ()
    items: tuple[Question, ...] = ()  # the pre/post-test's questions, none from a module

    def module(self, module_id: str) -> Module | None:
        """Return the module with this id, or None."""
        return next((m for m in self.modules if m.id == module_id), None)

    def question(self, question_id: str) -> Question | None:
        """Return the question with this id, from any module or the pre/post-test, or None."""
        asked = (q for m in self.modules for q in m.quiz)
        return next((q for q in chain(asked, self.items) if q.id == question_id), None)
