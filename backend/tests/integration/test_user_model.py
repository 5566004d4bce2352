"""The `user` table's rules hold on both backends, through the ORM and in raw SQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlmodel import Session, select

from src.models import User
from tests.conftest import KNOWN_PASSWORD_HASH, add_user


def _insert_raw(session: Session, email: str | None, password_hash: str | None) -> None:
    session.execute(
        text('INSERT INTO "user" (email, hashed_password) VALUES (:email, :hash)'),
        {"email": email, "hash": password_hash},
    )


def test_email_is_stored_lower_case(session: Session) -> None:
    user = add_user(session, "  Ann.Lee@Example.COM ")
    session.expire_all()
    assert session.get(User, user.id).email == "ann.lee@example.com"  # type: ignore[union-attr]


@pytest.mark.parametrize("variant", ["ann@example.com", "ANN@EXAMPLE.COM", "Ann@Example.Com"])
def test_email_is_unique_in_any_letter_case(session: Session, variant: str) -> None:
    add_user(session, "ann@example.com")
    with pytest.raises(IntegrityError):
        add_user(session, variant)


def test_raw_sql_cannot_store_a_mixed_case_email(session: Session) -> None:
    with pytest.raises(IntegrityError, match="email_lowercase"):
        _insert_raw(session, "Ann@Example.com", KNOWN_PASSWORD_HASH)


@pytest.mark.parametrize(
    ("email", "password_hash"), [(None, KNOWN_PASSWORD_HASH), ("a@b.io", None)]
)
def test_email_and_hash_are_not_null(
    session: Session, email: str | None, password_hash: str | None
) -> None:
    with pytest.raises(IntegrityError):
        _insert_raw(session, email, password_hash)


def test_raw_sql_cannot_store_a_plain_password(session: Session) -> None:
    with pytest.raises(IntegrityError, match="hashed_password_is_hash"):
        _insert_raw(session, "a@b.io", "hunter2hunter2")


def test_orm_refuses_a_plain_password_before_any_sql(session: Session) -> None:
    session.add(User(email="a@b.io", hashed_password="hunter2hunter2"))
    with pytest.raises(ValidationError) as caught:
        session.flush()
    assert caught.value.errors()[0]["loc"] == ("hashed_password",)
    assert "hunter2hunter2" not in str(caught.value)
    session.rollback()


@pytest.mark.parametrize("email", ["not-an-email", "a@", "a\x00@b.io", "x" * 250 + "@b.io"])
def test_orm_refuses_a_malformed_email(session: Session, email: str) -> None:
    session.add(User(email=email, hashed_password=KNOWN_PASSWORD_HASH))
    with pytest.raises(ValidationError) as caught:
        session.flush()
    assert caught.value.errors()[0]["loc"] == ("email",)
    session.rollback()


def test_password_hash_never_appears_in_repr(session: Session) -> None:
    user = add_user(session, "ann@example.com")
    assert KNOWN_PASSWORD_HASH not in repr(user)
    assert KNOWN_PASSWORD_HASH not in str(user)


def test_timestamps_come_back_timezone_aware_utc(session: Session) -> None:
    user = add_user(session, "ann@example.com")
    session.expire_all()
    loaded = session.scalars(select(User).where(User.id == user.id)).one()
    assert loaded.created_at.utcoffset() == timedelta(0)
    assert loaded.updated_at.utcoffset() == timedelta(0)
    assert abs(loaded.created_at - datetime.now(UTC)) < timedelta(minutes=1)


def test_an_aware_timestamp_in_another_zone_round_trips_as_the_same_instant(
    session: Session,
) -> None:
    user = add_user(session, "ann@example.com")
    instant = datetime(2026, 3, 29, 1, 30, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    user.created_at = instant
    session.commit()
    session.expire_all()
    loaded = session.get(User, user.id)
    assert loaded is not None
    assert loaded.created_at == instant
    assert loaded.created_at.tzinfo == UTC


def test_naive_timestamps_are_refused(session: Session) -> None:
    user = add_user(session, "ann@example.com")
    user.created_at = datetime(2026, 1, 1, 12, 0)
    with pytest.raises(StatementError, match="timezone-aware"):
        session.flush()
    session.rollback()


def test_updated_at_moves_forward_on_every_update(session: Session) -> None:
    user = add_user(session, "ann@example.com")
    created, first = user.created_at, user.updated_at
    user.email = "ann2@example.com"
    session.commit()
    second = user.updated_at
    user.email = "ann3@example.com"
    session.commit()
    assert first < second < user.updated_at
    assert user.created_at == created
