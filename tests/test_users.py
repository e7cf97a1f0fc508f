"""Console users: the `users` commands, argon2 hashes, scopes and signing in."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from app.infra.models import User
from app.people import users

EMAIL = "awa.traore@kalan.ml"
PASSWORD = "correct-horse-battery"


def add(runner, email=EMAIL, role="supervisor", scope="cercle=kadiolo", password=PASSWORD):
    """Run `kalan users add` with the password on standard input; return click's Result."""
    args = ["users", "add", email, "--role", role, "--password-stdin"]
    if scope is not None:
        args += ["--scope", scope]
    return runner.invoke(args, input=password + "\n")


def stored(app) -> list[User]:
    """Return every user in the database, by email."""
    with app.extensions["db"]() as db:
        return list(db.scalars(select(User).order_by(User.email)))


@pytest.mark.parametrize(
    ("role", "scope", "where"),
    [
        ("admin", None, "everywhere"),
        ("supervisor", "cercle=kadiolo", "cercle=kadiolo"),
        ("supervisor", "Region=Sikasso", "region=sikasso"),
        ("viewer", " cercle=KOUTIALA ", "cercle=koutiala"),
        ("viewer", None, "everywhere"),
    ],
)
def test_adding_a_user_stores_an_argon2_hash_never_the_password(app, runner, role, scope, where):
    """A new user is recorded with role, normalised scope and an argon2 hash."""
    result = add(runner, email="Awa.Traore@Kalan.ML", role=role, scope=scope)
    assert result.exit_code == 0, result.output
    assert result.output == f"added {role} {EMAIL} ({where})\n"
    (user,) = stored(app)
    assert (user.email, user.role, user.scope) == (EMAIL, role, None if scope is None else where)
    assert user.password_hash.startswith("$argon2")
    assert PASSWORD not in user.password_hash
    assert user.last_login_at is None and user.created_at is not None


def test_adding_an_existing_user_updates_role_scope_and_password(app, runner):
    """Adding the same email again resets the one user, and the old password stops working."""
    assert add(runner).exit_code == 0
    (before,) = stored(app)
    result = add(runner, email=EMAIL.upper(), role="viewer", scope="region=koutiala",
                 password="another-long-secret")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output == f"updated viewer {EMAIL} (region=koutiala)\n"
    (after,) = stored(app)
    assert after.id == before.id
    assert (after.role, after.scope) == ("viewer", "region=koutiala")
    assert after.password_hash != before.password_hash
    with app.extensions["db"]() as db:
        now = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
        assert users.authenticate(db, EMAIL, PASSWORD, now) is None
        assert users.authenticate(db, EMAIL, "another-long-secret", now) is not None


def test_a_new_password_ends_the_users_sessions(app, runner):
    """A new user starts at session version 0; each reset of an existing one moves it on."""
    assert add(runner).exit_code == 0
    assert [u.session_version for u in stored(app)] == [0]
    assert add(runner, password="another-long-secret").exit_code == 0
    assert add(runner, password="a-third-long-secret").exit_code == 0
    assert [u.session_version for u in stored(app)] == [2]


def test_disabling_keeps_the_first_date_and_enabling_clears_it(app, runner):
    """Disabling twice keeps when it first happened, and ends the sessions each time."""
    assert add(runner).exit_code == 0
    first, later = datetime(2025, 3, 1, 9, 0, tzinfo=UTC), datetime(2025, 3, 2, 9, 0, tzinfo=UTC)
    for moment in (first, later):
        with app.extensions["db"]() as db:
            assert users.disable(db, EMAIL.upper(), moment).email == EMAIL
            db.commit()
    (user,) = stored(app)
    assert (user.disabled_at, user.session_version) == (first, 2)
    with app.extensions["db"]() as db:
        assert users.enable(db, EMAIL).disabled_at is None
        assert users.disable(db, "nobody@kalan.ml", later) is None
        assert users.enable(db, "nobody@kalan.ml") is None
        db.commit()
    assert stored(app)[0].disabled_at is None


@pytest.mark.parametrize(
    ("email", "role", "scope", "password", "message"),
    [
        ("not-an-email", "viewer", None, PASSWORD, "not an email address: 'not-an-email'"),
        ("a@b", "viewer", None, PASSWORD, "not an email address"),
        ("two@at@kalan.ml", "viewer", None, PASSWORD, "not an email address"),
        (EMAIL, "viewer", None, "short-pw1", "at least 10 characters"),
        (EMAIL, "viewer", None, "", "at least 10 characters"),
        (EMAIL, "supervisor", "cercle=atlantis", PASSWORD, "scope must be cercle=<cercle>"),
        (EMAIL, "supervisor", "district=x", PASSWORD, "scope must be cercle=<cercle>"),
        (EMAIL, "supervisor", "region=kadiolo", PASSWORD, "not 'region=kadiolo'"),
        (EMAIL, "supervisor", "kadiolo", PASSWORD, "not 'kadiolo'"),
        (EMAIL, "admin", "cercle=kadiolo", PASSWORD, "an admin sees everything: no scope"),
        (EMAIL, "owner", None, PASSWORD, "'owner' is not one of 'admin', 'supervisor', 'viewer'"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(
    app, runner, email, role, scope, password, message
):
    """A bad email, password, role or scope exits 2 with the reason and records no user."""
    result = add(runner, email=email, role=role, scope=scope, password=password)
    assert result.exit_code == 2
    assert "Error:" in result.output and message in result.output
    assert "Traceback" not in result.output
    assert stored(app) == []


def test_a_refused_update_leaves_the_user_as_it_was(app, runner):
    """A bad reset of an existing user changes neither its role, its scope nor its password."""
    assert add(runner).exit_code == 0
    (before,) = stored(app)
    refused = add(runner, role="admin", scope="cercle=kadiolo", password="a-new-password")
    assert refused.exit_code == 2 and "no scope" in refused.output
    assert add(runner, password="short").exit_code == 2
    (after,) = stored(app)
    assert (after.role, after.scope, after.password_hash) == (
        before.role, before.scope, before.password_hash)  # fmt: skip


def test_listing_users_shows_role_scope_and_last_sign_in(app, runner):
    """`users list` shows every user by email, with where they see and when they last signed in."""
    assert runner.invoke(["users", "list"]).output == "no user\n"
    assert add(runner, email="zoe@kalan.ml", role="admin", scope=None).exit_code == 0
    assert (
        add(runner, email="bakary@kalan.ml", role="viewer", scope="region=bougouni").exit_code == 0
    )
    with app.extensions["db"]() as db:
        users.authenticate(db, "zoe@kalan.ml", PASSWORD, datetime(2025, 3, 1, 9, 30, tzinfo=UTC))
        db.commit()
    result = runner.invoke(["users", "list"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert len(lines) == 2
    assert lines[0].split() == ["bakary@kalan.ml", "viewer", "region=bougouni", "never"]
    assert lines[1].split() == ["zoe@kalan.ml", "admin", "everywhere", "2025-03-01", "09:30"]
    assert PASSWORD not in result.output and "$argon2" not in result.output


@pytest.mark.parametrize(
    ("email", "password", "signed_in"),
    [
        (EMAIL, PASSWORD, True),
        ("  AWA.TRAORE@KALAN.ML ", PASSWORD, True),  # the address, whatever its case
        (EMAIL, PASSWORD.upper(), False),
        (EMAIL, PASSWORD + " ", False),
        (EMAIL, "", False),
        ("nobody@kalan.ml", PASSWORD, False),
    ],
)
def test_authenticate(app, runner, email, password, signed_in):
    """Only the right password of a known user signs in, and only then is the time recorded."""
    assert add(runner).exit_code == 0
    now = datetime(2025, 3, 1, 8, 15, tzinfo=UTC)
    with app.extensions["db"]() as db:
        user = users.authenticate(db, email, password, now)
        assert (user is not None) is signed_in
        if user is not None:
            assert user.email == EMAIL
        db.commit()
    (user,) = stored(app)
    assert user.last_login_at == (now if signed_in else None)


def test_a_damaged_hash_refuses_sign_in_without_an_error(app, runner):
    """A stored hash that is not argon2 makes the password wrong, not the app crash."""
    assert add(runner).exit_code == 0
    with app.extensions["db"]() as db:
        db.scalars(select(User)).one().password_hash = "plain-text"
        db.commit()
        assert users.authenticate(db, EMAIL, "plain-text", datetime.now(UTC)) is None


@pytest.mark.parametrize(
    ("text", "scope"),
    [
        (None, None),
        ("", None),
        ("cercle=kadiolo", "cercle=kadiolo"),
        ("CERCLE=Koutiala", "cercle=koutiala"),
        ("region=bougouni", "region=bougouni"),
    ],
)
def test_parse_scope(text, scope):
    """A scope names a known cercle or region; nothing means everywhere."""
    assert users.parse_scope(text) == scope


@pytest.mark.parametrize("text", ["cercle=atlantis", "district=x", "cercle=", "=kadiolo", "x"])
def test_parse_scope_refuses_what_is_not_a_place(text):
    """An unknown kind or place is a UserError that names what was given."""
    with pytest.raises(users.UserError, match="scope must be"):
        users.parse_scope(text)
