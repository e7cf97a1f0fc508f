"""The training journey as a pure flow, with the real course: option order, locks, places, tests."""

import itertools
import json
from pathlib import Path

import pytest

import flows
from app.content import load
from flows.effects import PostponeRecall, RecallAnswer, RecordAnswer, SaveProgress, SetData
from flows.training import POST, PRE, PRETEST
from flows.training.common import order

ROOT = Path(__file__).resolve().parent.parent
CATALOG, _ = load(ROOT / "content")
COURSE = CATALOG.course
FLOW = flows.build(COURSE)
FIRST = COURSE.modules[0]
NAV = "0.Retour 00.Menu"


def context(learner=7, role="agent", training=None, tests=None, **more) -> dict:
    """Return what the conversation gives the flow: a learner with a contact id."""
    return {"lang": "fr", "phone": "+22370000099", "code": "*123#", "now": "2026-01-05T10:00:00",
            "profile": {"id": learner, "role": role, "lang": "fr"}, "pass_mark": 80,
            "languages": tuple(CATALOG.names.items()), "complete": CATALOG.complete,
            "training": training or {}, "tests": tests or {}, **more}  # fmt: skip


TOOK_PRE = {"pre": True, "post": False, "pre_right": 2}


def run(*inputs, ctx=None, state=None):
    """Send each input from a fresh session (or state), through JSON as Redis keeps it."""
    ctx = context(tests=TOOK_PRE) if ctx is None else ctx
    result = flows.step(FLOW, state, None, ctx, CATALOG, 160) if state is None else None
    state = result.state if result else state
    for text in inputs:
        result = flows.step(FLOW, json.loads(json.dumps(state)), text, ctx, CATALOG, 160)
        state = result.state
    return result


def lines(reply: str) -> dict[str, int]:
    """Return a screen's numbered options as text: number."""
    found = {}
    for line in reply[4:].split("\n"):
        number, _, text = line.partition(". ")
        if number.isdigit():
            found[text] = int(number)
    return found


def key_of(reply: str, qid: str, k: int) -> str:
    """Return the key that picks the authored option k of question qid on this screen."""
    return str(lines(reply)[CATALOG.get(f"course.{qid}.o{k}")])


def to_question(ctx) -> flows.Step:
    """Open module 1 from the main menu and read its lessons: the first question."""
    return run("1", "2", "1", *["1"] * FIRST.lessons, ctx=ctx)


def shown_order(ctx, question, attempt) -> list[str]:
    return [CATALOG.get(f"course.{question.id}.o{k}") for k in order(question, ctx, attempt)]


# -- each learner sees the options in an order of their own ------------------------------------


def test_two_learners_see_different_orders_and_each_the_same_one_every_time():
    questions = [q for m in COURSE.modules for q in m.quiz]
    awa, moussa = context(learner=1), context(learner=2)
    differ = [q.id for q in questions if order(q, awa, 1) != order(q, moussa, 1)]
    assert len(differ) > len(questions) // 2
    for question in questions:
        assert sorted(order(question, awa, 1)) == list(range(1, len(question.answers) + 1))
        assert order(question, awa, 1) == order(question, context(learner=1, role="x"), 1)


def test_every_order_comes_up_among_learners():
    """No option is stuck in one place: over 200 learners, each of the 6 orders of 3 shows."""
    question = next(q for m in COURSE.modules for q in m.quiz if len(q.answers) == 3)
    seen = {order(question, context(learner=n), 1) for n in range(200)}
    assert seen == set(itertools.permutations((1, 2, 3)))


def test_a_retake_and_the_post_test_draw_a_new_order():
    """A place remembered from the last attempt is not an answer known."""
    awa = context(learner=1)
    questions = [q for m in COURSE.modules for q in m.quiz]
    assert any(order(q, awa, 1) != order(q, awa, 2) for q in questions)
    items = [COURSE.question(qid) for qid in COURSE.pretest]
    assert any(order(q, awa, PRE) != order(q, awa, POST) for q in items)


def test_the_question_screen_lists_the_options_in_the_learners_order():
    for learner in (1, 2, 3):
        ctx = context(learner=learner, training={}, tests=TOOK_PRE)
        reply = to_question(ctx).reply
        qid = FIRST.quiz[0].id
        listed = [text for text, _ in sorted(lines(reply).items(), key=lambda item: item[1])]
        assert listed == shown_order(ctx, FIRST.quiz[0], 1), reply
        assert reply.startswith(f"CON Q1/{len(FIRST.quiz)} {CATALOG.get(f'course.{qid}.q')}")


@pytest.mark.parametrize("learner", [1, 2, 5])
@pytest.mark.parametrize("k", [1, 2, 3])
def test_the_authored_number_is_recorded_and_its_feedback_shown(learner, k):
    """Whatever its place on screen, option k is recorded as k, scored and explained as k."""
    ctx = context(learner=learner, tests=TOOK_PRE)
    question = FIRST.quiz[0]
    screen = to_question(ctx)
    picked = flows.step(FLOW, screen.state, key_of(screen.reply, question.id, k), ctx, CATALOG, 160)
    correct = k == question.right
    record = RecordAnswer(FIRST.id, question.id, 1, k, correct)
    assert picked.effects[0] == record
    assert picked.reply.startswith("CON " + CATALOG.get(f"course.{question.id}.f{k}"))
    assert picked.reply.startswith("CON Oui" if correct else "CON Non")
    assert picked.state["data"]["quiz"]["answered"] == {question.id: correct}


@pytest.mark.parametrize("learner", [1, 2, 5])
@pytest.mark.parametrize("kind", ["pre", "post"])
def test_the_tests_shuffle_too_and_record_the_authored_number(learner, kind):
    items = [COURSE.question(qid) for qid in COURSE.pretest]
    if kind == "pre":
        ctx = context(learner=learner)
        screen = run("1", "1", ctx=ctx)  # Formation: the pre-test comes first; Commencer
        attempt = PRE
    else:
        passed = {m.id: {"status": "passed", "best": len(m.quiz)} for m in COURSE.modules}
        ctx = context(learner=learner, training=passed, tests=TOOK_PRE)
        screen = run("1", "1", "1", ctx=ctx)  # Formation, Continuer: the post-test; Commencer
        attempt = POST
    for n, question in enumerate(items):
        listed = [text for text, _ in sorted(lines(screen.reply).items(), key=lambda i: i[1])]
        assert listed == shown_order(ctx, question, attempt)
        k = (n % len(question.answers)) + 1  # a different authored option each time
        screen = flows.step(FLOW, screen.state, key_of(screen.reply, question.id, k), ctx,
                            CATALOG, 160)  # fmt: skip
        correct = k == question.right
        assert screen.effects[0] == RecordAnswer(PRETEST, question.id, attempt, k, correct)
    assert screen.state["node"] == f"t.{kind}.end"


# -- what a first-time user ran into ------------------------------------------------------------


def answered_first(wrong: bool):
    """Answer module 1's first question; return the feedback step, the question and the pick."""
    ctx = context(tests=TOOK_PRE)
    question = FIRST.quiz[0]
    k = question.right % len(question.answers) + 1 if wrong else question.right
    screen = to_question(ctx)
    return flows.step(FLOW, screen.state, key_of(screen.reply, question.id, k), ctx, CATALOG,
                      160), question, k  # fmt: skip


@pytest.mark.parametrize("wrong", [True, False])
def test_back_from_feedback_shows_the_answer_given_and_takes_no_other(wrong):
    feedback, question, k = answered_first(wrong)
    ctx = context(tests=TOOK_PRE)
    back = flows.step(FLOW, feedback.state, "0", ctx, CATALOG, 160)
    said = CATALOG.get(f"course.{question.id}.q")
    mine = CATALOG.get(f"course.{question.id}.o{k}")
    assert back.reply == f"CON Q1/{len(FIRST.quiz)} {said}\nVotre réponse : {mine}\n1. Suite\n{NAV}"
    for text in ("2", "3"):
        again = flows.step(FLOW, back.state, text, ctx, CATALOG, 160)
        assert again.reply.startswith("CON Choix invalide.") and again.effects == ()
    onwards = flows.step(FLOW, back.state, "1", ctx, CATALOG, 160)
    assert onwards.effects == ()
    assert onwards.reply == feedback.reply  # the feedback of the answer that counts
    assert flows.step(FLOW, onwards.state, "1", ctx, CATALOG, 160).reply.startswith("CON Q2/")


def finish_module(ctx):
    """Answer every question of module 1 rightly; return the score step."""
    screen = to_question(ctx)
    for n in range(len(FIRST.quiz)):
        qid = screen.state["data"]["quiz"]["order"][n]
        question = COURSE.question(qid)
        screen = flows.step(FLOW, screen.state, key_of(screen.reply, qid, question.right), ctx,
                            CATALOG, 160)  # fmt: skip
        screen = flows.step(FLOW, screen.state, "1", ctx, CATALOG, 160)
    return screen


@pytest.mark.parametrize("back", [("0",), ("0", "0")])
def test_back_from_the_score_leaves_the_scored_quiz_behind(back):
    ctx = context(tests=TOOK_PRE)
    score = finish_module(ctx)
    total = len(FIRST.quiz)
    assert score.reply.startswith(f"CON Score : {total}/{total}.")
    result = run(*back, ctx=ctx, state=score.state)
    node = "training" if back == ("0",) else "menu"
    assert result.state["node"] == node
    assert f"Q{total + 1}/{total}" not in result.reply


def test_back_from_the_pre_test_end_leads_to_the_training_menu():
    ctx = context()
    screen = run("1", "1", ctx=ctx)
    for _ in COURSE.pretest:
        screen = flows.step(FLOW, screen.state, "1", ctx, CATALOG, 160)
    assert screen.state["node"] == "t.pre.end"
    back = flows.step(FLOW, screen.state, "0", ctx, CATALOG, 160)
    assert back.state["node"] == "training" and back.reply.startswith("CON Formation\n")


def test_back_to_the_test_intro_then_commencer_goes_on_where_it_was():
    ctx = context()
    screen = run("1", "1", "1", "1", ctx=ctx)  # the pre-test, two items answered
    items = len(COURSE.pretest)
    assert screen.reply.startswith(f"CON Q3/{items} ")
    intro = flows.step(FLOW, screen.state, "0", ctx, CATALOG, 160)
    assert intro.state["node"] == "t.pre"
    assert flows.step(FLOW, intro.state, "1", ctx, CATALOG, 160).reply == screen.reply


@pytest.mark.parametrize("n", range(1, FIRST.lessons + 1))
def test_each_lesson_shows_its_place(n):
    ctx = context(tests=TOOK_PRE)
    reply = run("1", "2", "1", *["1"] * (n - 1), ctx=ctx).reply
    lesson = CATALOG.get(f"course.{FIRST.id}.l{n}")
    assert reply.startswith(f"CON {n}/{FIRST.lessons} {lesson}\n")
    assert reply.endswith("\n1. Quiz\n" + NAV if n == FIRST.lessons else "\n1. Suite\n" + NAV)


TITLE = CATALOG.get(f"course.{FIRST.id}.title")
QUIZ = {"module": FIRST.id, "order": [q.id for q in FIRST.quiz], "answered": {}, "attempt": 1}
TEST = {"order": list(COURSE.pretest), "answered": {}}
ITEMS = len(COURSE.pretest)
PLACES = {
    "a lesson": ({"node": f"t.{FIRST.id}.l3", "data": {}},
                 f"Reprendre : {TITLE} (3/{FIRST.lessons})"),
    "a question": ({"node": f"t.{FIRST.id}.q", "data": {"quiz": {**QUIZ, "i": 1}}},
                   f"Reprendre : {TITLE} (Q2/{len(FIRST.quiz)})"),
    "a feedback": ({"node": f"t.{FIRST.id}.fb",
                    "data": {"quiz": {**QUIZ, "i": 4, "last": [QUIZ["order"][4], 1, False]}}},
                   f"Reprendre : {TITLE} (Q5/{len(FIRST.quiz)})"),
    "a quiz under way": ({"node": f"t.{FIRST.id}.resume_quiz", "data": {}},
                         f"Reprendre : {TITLE} (quiz)"),
    "the pre-test intro": ({"node": "t.pre", "data": {}}, "Reprendre : test de départ"),
    "the pre-test": ({"node": "t.test", "data": {"test": {**TEST, "kind": "pre", "i": 2,
                                                          "attempt": PRE}}},
                     f"Reprendre : test de départ (Q3/{ITEMS})"),
    "the post-test": ({"node": "t.test", "data": {"test": {**TEST, "kind": "post", "i": 0,
                                                           "attempt": POST}}},
                      f"Reprendre : test final (Q1/{ITEMS})"),
    "a report": ({"node": "r.age", "data": {}}, "Reprendre : signalement"),
    "a name being typed": ({"node": "account.name", "data": {}}, "Reprendre"),
}  # fmt: skip


@pytest.mark.parametrize(("snapshot", "offer"), PLACES.values(), ids=PLACES.keys())
def test_the_resume_offer_says_what_it_resumes(snapshot, offer):
    snapshot = {"page": 0, "back": [["menu", 0]], **snapshot}
    ctx = context(tests=TOOK_PRE, resume=snapshot)
    first = run(ctx=ctx)
    prompt = "Vous n'aviez pas terminé. Reprendre là où vous étiez ?"
    assert first.reply == f"CON {prompt}\n1. {offer}\n2. Recommencer"
    again = flows.step(FLOW, first.state, "9", ctx, CATALOG, 160)  # the offer, named again
    assert again.reply == f"CON Choix invalide.\n{prompt}\n1. {offer}\n2. Recommencer"
    assert flows.step(FLOW, first.state, "1", ctx, CATALOG, 160).state["node"] == snapshot["node"]


# -- the pre-test before module 1 ---------------------------------------------------------------

STARTED = {FIRST.id: {"status": "started", "position": "l2", "attempt": 0}}
GATE = {
    "a new agent: the pre-test first": (context(), "t.pre"),
    "an agent who took it": (context(tests=TOOK_PRE), "training"),
    "an agent who started without it": (context(training=STARTED), "training"),
    "a community member: no tests": (context(role="community"), "training"),
}


@pytest.mark.parametrize(("ctx", "node"), GATE.values(), ids=GATE.keys())
def test_opening_the_training_offers_the_pre_test_while_it_is_due(ctx, node):
    assert run("1", ctx=ctx).state["node"] == node
    assert run("1", ctx=ctx).state["node"] == node  # Continuer goes the same way
    if node == "training":
        assert run("1", "1", ctx=ctx).state["node"] != "t.pre"


def test_the_pre_test_may_be_skipped_into_module_one_which_records_the_choice():
    offer = run("1", ctx=context())
    items = len(COURSE.pretest)
    assert offer.reply == (
        f"CON Avant de commencer : {items} questions pour voir ce que vous savez déjà. "
        f"Ce n'est pas noté.\n1. Commencer\n2. Continuer sans le test\n{NAV}"
    )
    skipped = flows.step(FLOW, offer.state, "2", context(), CATALOG, 160)
    assert skipped.effects == (SaveProgress(FIRST.id, "l1"),)
    assert skipped.state["node"] == f"t.{FIRST.id}.l1"
    begun = flows.step(FLOW, offer.state, "1", context(), CATALOG, 160)
    assert begun.state["node"] == "t.test" and isinstance(begun.effects[0], SetData)


def test_the_post_test_is_not_offered_a_skip():
    passed = {m.id: {"status": "passed", "best": len(m.quiz)} for m in COURSE.modules}
    offer = run("1", "1", ctx=context(training=passed, tests=TOOK_PRE))
    assert offer.state["node"] == "t.post"
    assert list(lines(offer.reply)) == ["Commencer"]


# -- the language screen, only when there is a choice -------------------------------------------


@pytest.mark.parametrize(
    ("complete", "node"), [(("fr",), "menu"), (("fr", "bm"), "lang"), ((), "menu")]
)
def test_a_new_caller_is_asked_the_language_only_when_there_is_a_choice(complete, node):
    ctx = {**context(), "lang": None, "profile": {"id": 9}, "complete": complete}
    assert run(ctx=ctx).state["node"] == node


def test_only_languages_with_every_key_are_complete():
    base = CATALOG.texts["fr"]
    catalog = flows.Catalog({"fr": base, "bm": dict(base), "en": {"menu.title": "Home"}})
    assert catalog.complete == ("fr", "bm")
    assert CATALOG.complete == ("fr",)


def test_check_names_a_back_to_that_is_not_a_screen():
    flow = {**FLOW, "training": flows.Menu("training.title", back_to="t.open")}
    assert flows.check(flow, CATALOG) == ["training: 0 leads to 't.open', which is not a screen"]


# -- the recall quiz, days after a pass: offered at the dial, before the menu ----------------

DUE, LATER = "2026-01-05T09:00:00+00:00", "2026-01-06T09:00:00+00:00"
NOW = "2026-01-05T10:00:00+00:00"


def recall_ctx(recalls: dict, now: str = NOW) -> dict:
    return context(tests=TOOK_PRE, now=now, recalls=recalls)


def asked(learner: int = 7) -> list[str]:
    return flows.training.recall.pick(FIRST, learner)


@pytest.mark.parametrize(
    ("recalls", "now", "first"),
    [
        ({}, NOW, "CON Kalan"),  # none planned
        ({FIRST.id: {"due_at": LATER, "answered": {}}}, NOW, "CON Kalan"),  # not yet
        ({FIRST.id: {"due_at": DUE, "answered": {}}}, NOW, "CON Rappel du module"),
        (
            {FIRST.id: {"due_at": DUE, "answered": {}}},
            "2026-01-05T09:00:00.5+00:00",
            "CON Rappel du module",
        ),  # fmt: skip
        ({FIRST.id: {"due_at": DUE, "answered": {asked()[0]: True}}}, NOW, "CON Rappel du module"),
        ({FIRST.id: {"due_at": DUE, "answered": dict.fromkeys(asked(), True)}}, NOW, "CON Kalan"),
    ],
)
def test_the_first_screen_offers_a_recall_only_when_due_and_unfinished(recalls, now, first):
    assert run(ctx=recall_ctx(recalls, now)).reply.startswith(first)


def test_a_recall_asks_three_questions_of_the_module_each_learner_their_own():
    picks = {tuple(flows.training.recall.pick(FIRST, learner)) for learner in range(1, 30)}
    assert all(len(p) == 3 and set(p) <= {q.id for q in FIRST.quiz} for p in picks)
    assert len(picks) > 1
    assert flows.training.recall.pick(FIRST, 7) == flows.training.recall.pick(FIRST, 7)


def test_a_recall_answer_records_the_authored_option_and_skips_what_was_answered():
    done = asked()[0]
    ctx = recall_ctx({FIRST.id: {"due_at": DUE, "answered": {done: False}}})
    question = run("1", ctx=ctx)
    assert question.reply.startswith("CON Q2/3 ")  # the answered one is not asked again
    qid = asked()[1]
    right = COURSE.question(qid).right
    feedback = run(key_of(question.reply, qid, right), ctx=ctx, state=question.state)
    (answer,) = [e for e in feedback.effects if not isinstance(e, SetData)]
    assert answer == RecallAnswer(FIRST.id, qid, right, True)
    assert feedback.reply.startswith("CON Oui.")


def test_plus_tard_postpones_and_goes_to_the_menu():
    ctx = recall_ctx({FIRST.id: {"due_at": DUE, "answered": {}}})
    later = run("2", ctx=ctx)
    assert later.reply.startswith("CON Kalan")
    assert PostponeRecall(FIRST.id) in later.effects


@pytest.mark.parametrize("module", COURSE.modules, ids=lambda m: m.id)
def test_every_module_s_recall_offer_fits_one_screen(module):
    ctx = recall_ctx({module.id: {"due_at": DUE, "answered": {}}})
    reply = run(ctx=ctx).reply
    assert reply.startswith("CON Rappel du module " + CATALOG.get(f"course.{module.id}.title"))
    assert len(reply) <= 160 and "99.Suite" not in reply
