"""Changes to an account: email, password, deactivation and reactivation.

The account holder's changes (`update_user`, `deactivate_user`) are confirmed
by the current password, checked exactly as a login checks it
(`users.check_login`): a stolen bearer token alone must not take an account
over, or lock its owner out. An operator's (`set_active`) needs no password:
it is how a deactivated account, which can no longer confirm anything, is
opened again.

Each holder's change is split like a login, so `src.crud.aio` can run the
check and the hashing off the event loop: `account_to_change` (SQL), the check
and any hashing (no transaction or pooled connection held), `store_change`
(SQL, one UPDATE that applies only to the account as it was checked).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Annotated, Any

from pydantic import AfterValidator, StrictBool
from sqlalchemy import ColumnElement, Update, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlmodel import col

from src.crud.arguments import RowId, validated
from src.crud.integrity import violates
from src.crud.transactions import all_or_nothing
from src.crud.users import check_login, get_user
from src.errors import DuplicateEmailError, IncorrectPasswordError, UserNotFoundError
from src.models import User, UserUpdate
from src.models.types import utc_now
from src.models.user import CurrentPassword
from src.security.passwords import Verdict, hash_password

# Validated again from what was sent: an instance may have skipped validation
# (`model_construct`, a field set afterwards). Errors name `data` and the field.
CheckedUpdate = Annotated[UserUpdate, AfterValidator(UserUpdate.checked)]


@validated
def update_user(session: Session, user_id: RowId, data: CheckedUpdate) -> User:
    """Change the account's email and/or password, confirmed by its current password.

    The current password is checked as a login checks it: a wrong one, or any
    for a deactivated account, raises `IncorrectPasswordError` after the
    failed-login wait, before anything else is looked at. A new email is keyed
    as registration keys it; one another account has (in any spelling) raises
    `DuplicateEmailError`, also when a concurrent change or registration took
    it first. A new password follows registration's rules and is stored as an
    Argon2id hash. Nothing is changed if the account's password or state
    changed while this one was being checked (`store_change`).
    """
    account = account_to_change(session, user_id)
    proof = confirmed(account, check_login(account, data.current_password))
    new_hash = None if data.new_password is None else hash_password(data.new_password)
    return store_change(session, proof, changed_values(data, new_hash))


@validated
def deactivate_user(session: Session, user_id: RowId, current_password: CurrentPassword) -> User:
    """The account holder closes the account, confirmed by its password as `update_user` is.

    Its row, email and todos are kept; it can no longer log in, and only
    `set_active` (an operator's action) opens it again.
    """
    account = account_to_change(session, user_id)
    proof = confirmed(account, check_login(account, current_password))
    return store_change(session, proof, DEACTIVATED)


@validated
def set_active(session: Session, user_id: RowId, active: StrictBool) -> User:
    """Open or close an account without its password: an operator's action (support, an
    admin tool), and the only way back for a deactivated account. Nothing else changes
    but `updated_at`."""
    statement = _account_update(col(User.id) == user_id, values={"is_active": active})
    with all_or_nothing(session):
        user: User | None = session.scalars(statement).first()
        if user is None:  # nothing changed: no rollback, which would expire objects
            raise UserNotFoundError(user_id)
    return user


DEACTIVATED: Mapping[str, Any] = MappingProxyType({"is_active": False})


@dataclass(frozen=True, slots=True)
class Confirmation:
    """An account whose current password was just confirmed, as it was when checked."""

    user_id: int
    checked_hash: str = field(repr=False)
    replacement_hash: str | None = field(repr=False)  # a login's re-hash of the same password


def account_to_change(session: Session, user_id: int) -> User:
    """The account as it is now (the SQL before the check); `UserNotFoundError` if none."""
    user = get_user(session, user_id)
    if user is None:
        raise UserNotFoundError(user_id)
    return user


def confirmed(account: User, verdict: Verdict) -> Confirmation:
    """The proof a change may be stored, or `IncorrectPasswordError` (after the wait)."""
    valid, replacement = verdict
    if not valid or account.id is None:
        raise IncorrectPasswordError("current_password")
    return Confirmation(account.id, account.hashed_password, replacement)


def changed_values(change: UserUpdate, new_hash: str | None) -> dict[str, Any]:
    """The columns `update_user` writes: the new email's key and the new password's hash."""
    values: dict[str, Any] = {} if change.email is None else {"email": change.email}
    return values if new_hash is None else values | {"hashed_password": new_hash}


def store_change(session: Session, proof: Confirmation, values: Mapping[str, Any]) -> User:
    """The SQL after the check: one UPDATE ... RETURNING, which matches only if the account
    still holds the hash that was checked and is still active.

    So a password changed, or the account deactivated, while this change was
    being confirmed wins: this one raises `IncorrectPasswordError` and
    changes nothing (`UserNotFoundError` if the account is gone). A hash the
    check replaced (bcrypt, older parameters) is stored with the change, as a
    login stores it, unless the change brings a new password.
    """
    if proof.replacement_hash is not None:
        values = {"hashed_password": proof.replacement_hash, **values}
    statement = _account_update(
        col(User.id) == proof.user_id,
        col(User.hashed_password) == proof.checked_hash,
        col(User.is_active).is_(True),
        values=values,
    )
    try:
        with all_or_nothing(session):
            user: User | None = session.scalars(statement).first()
    except IntegrityError as exc:
        if violates(exc, "uq_user_email"):
            raise DuplicateEmailError(values["email"]) from None
        raise
    if user is None:
        if get_user(session, proof.user_id) is None:
            raise UserNotFoundError(proof.user_id)
        raise IncorrectPasswordError("current_password")
    return user


def _account_update(*conditions: ColumnElement[bool], values: Mapping[str, Any]) -> Update:
    """UPDATE of the account `conditions` match, RETURNING it: the held copy is refreshed."""
    return (
        update(User)
        .where(*conditions)
        .values({**values, "updated_at": utc_now()})
        .returning(User)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
