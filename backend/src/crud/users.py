"""Account operations: registration, lookup, authentication, deletion.

Operations in the sense of `steps.py`: `src.crud` and `src.crud.aio` run them.
"""

from __future__ import annotations

from pydantic import SecretStr
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from src.crud.arguments import EmailLookup, RowId, validated
from src.crud.integrity import violates
from src.crud.steps import Add, Commit, Compute, First, Operation, Rollback, RowCount
from src.errors import DuplicateEmailError, UserNotFoundError
from src.models import User, UserCreate, normalise_email
from src.security.passwords import burn_verification_time, hash_password, verify_password


@validated
def create_user(data: UserCreate) -> Operation[User]:
    """Register an account; the password is stored only as an Argon2id hash.

    Raises `DuplicateEmailError` if the email exists in any letter case, also
    when a concurrent request registered it first.
    """
    password_hash = yield Compute(hash_password, (data.password,))
    user = User.model_validate({"email": data.email, "hashed_password": password_hash})
    try:
        yield Add(user)
        yield Commit()
    except IntegrityError as exc:
        yield Rollback()
        if violates(exc, "uq_user_email"):
            raise DuplicateEmailError(data.email) from None
        raise
    return user


@validated
def get_user(user_id: RowId) -> Operation[User | None]:
    return (yield First(select(User).where(col(User.id) == user_id)))  # type: ignore[no-any-return]


@validated
def get_user_by_email(email: EmailLookup) -> Operation[User | None]:
    """Case-insensitive: emails are stored in their normalised spelling."""
    statement = select(User).where(col(User.email) == normalise_email(email))
    return (yield First(statement))  # type: ignore[no-any-return]


@validated
def authenticate(email: EmailLookup, password: SecretStr) -> Operation[User | None]:
    """The user whose email and password these are, or None.

    An unknown email costs the same hash verification as a wrong password, so
    timing does not reveal which emails are registered. A hash made with older
    parameters is replaced after a successful check.
    """
    user = yield from get_user_by_email(email)
    if user is None:
        yield Compute(burn_verification_time, (password,))
        return None
    valid, new_hash = yield Compute(verify_password, (password, user.hashed_password))
    if not valid:
        return None
    if new_hash is not None:
        user.hashed_password = new_hash
        yield Commit()
    return user


@validated
def delete_user(user_id: RowId) -> Operation[None]:
    """Delete the account; the database deletes its todos with it (ON DELETE CASCADE)."""
    deleted = yield RowCount(delete(User).where(col(User.id) == user_id))
    if deleted == 0:  # nothing changed: no rollback, which would expire the caller's objects
        raise UserNotFoundError(user_id)
    yield Commit()
