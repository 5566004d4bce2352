"""Account operations: registration, lookup, authentication, deletion.

Plain functions taking a `Session` first. The two that hash a password are
also split at the hash (`register`; `get_user_by_email` / `check_login` /
`accept_login`) so that `src.crud.aio` can run the hashing in a worker thread
and only the SQL through `run_sync`; the blocking functions here compose the
same parts, so both paths do exactly the same thing. Changes to an account
(email, password, deactivation) are in `src.crud.accounts`.

A deactivated account (`is_active` false) keeps its row and todos, and is
answered as a wrong password wherever a password is checked (`stored_hash`).
"""

from __future__ import annotations

from pydantic import SecretStr
from sqlalchemy import Select, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlmodel import col

from src.crud.arguments import EmailLookup, RowId, validated
from src.crud.integrity import violates
from src.crud.results import rows_matched
from src.crud.transactions import all_or_nothing
from src.errors import DuplicateEmailError, UserNotFoundError
from src.models import User, UserCreate
from src.models.user import email_key_or_none
from src.security.passwords import Verdict, check_password, hash_password


@validated
def create_user(session: Session, data: UserCreate) -> User:
    """Register an account; the password is stored only as an Argon2id hash.

    Raises `DuplicateEmailError` if the email exists in any letter case, also
    when a concurrent request registered it first.
    """
    return register(session, data.email, hash_password(data.password))


def register(session: Session, email: str, password_hash: str) -> User:
    """Store a new account whose password is already hashed (the SQL half of `create_user`)."""
    user = User.model_validate({"email": email, "hashed_password": password_hash})
    try:
        with all_or_nothing(session):
            session.add(user)
    except IntegrityError as exc:
        if violates(exc, "uq_user_email"):
            raise DuplicateEmailError(email) from None
        raise
    return user


def _fresh(statement: Select[User]) -> Select[User]:
    """Refresh what the session holds: a read returns the account as it is now."""
    return statement.execution_options(populate_existing=True)


@validated
def get_user(session: Session, user_id: RowId) -> User | None:
    with all_or_nothing(session, writes=False):
        return session.scalars(_fresh(select(User).where(col(User.id) == user_id))).first()


@validated
def get_user_by_email(session: Session, email: EmailLookup) -> User | None:
    """The account whose email has the same key (`email_key`); None for what is not an email."""
    key = email_key_or_none(email)
    if key is None:  # NUL, lone surrogates, not an address: no account, no SQL
        return None
    statement = _fresh(select(User).where(col(User.email) == key))
    with all_or_nothing(session, writes=False):
        return session.scalars(statement).first()


@validated
def authenticate(session: Session, email: EmailLookup, password: SecretStr) -> User | None:
    """The user whose email and password these are, or None.

    A failed login takes the same time whether the email is unknown or its
    account holds an Argon2id or a migrated bcrypt hash (`check_password`), so
    timing reveals neither. A hash made with older parameters, or bcrypt, is
    replaced after a successful check, by one of the password as typed.
    """
    user = get_user_by_email(session, email)
    return accept_login(session, user, check_login(user, password))


def check_login(user: User | None, password: SecretStr) -> Verdict:
    """The CPU-bound half of `authenticate`: verify, or a decoy for no user, in equal time."""
    return check_password(password, stored_hash(user))


def stored_hash(user: User | None) -> str | None:
    """What `check_password` checks a password against: the account's hash; None for no
    account or a deactivated one, whose check is then the decoy and a failure, with the
    failed-login wait, whatever the password: the answer and its time are a wrong password's."""
    return None if user is None or not user.is_active else user.hashed_password


def accept_login(session: Session, user: User | None, verdict: Verdict) -> User | None:
    """The user if the password matched; a fresher hash is stored first."""
    valid, new_hash = verdict
    if user is None or not valid:
        return None
    if new_hash is not None:
        with all_or_nothing(session):
            user.hashed_password = new_hash
    return user


@validated
def delete_user(session: Session, user_id: RowId) -> None:
    """Delete the account; the database deletes its todos with it (ON DELETE CASCADE)."""
    with all_or_nothing(session):
        result = session.execute(delete(User).where(col(User.id) == user_id))
        if rows_matched(result) == 0:  # nothing changed: no rollback, which would expire objects
            raise UserNotFoundError(user_id)
