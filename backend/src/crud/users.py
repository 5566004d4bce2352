"""Account operations: registration, lookup, authentication, deletion."""

from __future__ import annotations

from pydantic import SecretStr
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from src.crud.arguments import EmailLookup, RowId, validated
from src.crud.integrity import violates
from src.errors import DuplicateEmailError, UserNotFoundError
from src.models import User, UserCreate, normalise_email
from src.security.passwords import burn_verification_time, hash_password, verify_password


@validated
def create_user(session: Session, data: UserCreate) -> User:
    """Register an account; the password is stored only as an Argon2id hash.

    Raises `DuplicateEmailError` if the email exists in any letter case, also
    when a concurrent request registered it first.
    """
    user = User.model_validate(
        {"email": data.email, "hashed_password": hash_password(data.password)}
    )
    session.add(user)
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        if violates(exc, "uq_user_email"):
            raise DuplicateEmailError(data.email) from None
        raise
    return user


@validated
def get_user(session: Session, user_id: RowId) -> User | None:
    return session.get(User, user_id)


@validated
def get_user_by_email(session: Session, email: EmailLookup) -> User | None:
    """Case-insensitive: emails are stored in their normalised spelling."""
    statement = select(User).where(col(User.email) == normalise_email(email))
    return session.scalars(statement).one_or_none()


@validated
def authenticate(session: Session, email: EmailLookup, password: SecretStr) -> User | None:
    """The user whose email and password these are, or None.

    An unknown email costs the same hash verification as a wrong password, so
    timing does not reveal which emails are registered. A hash made with older
    parameters is replaced after a successful check.
    """
    user = get_user_by_email(session, email)
    if user is None:
        burn_verification_time(password)
        return None
    valid, new_hash = verify_password(password, user.hashed_password)
    if not valid:
        return None
    if new_hash is not None:
        user.hashed_password = new_hash
        session.commit()
    return user


@validated
def delete_user(session: Session, user_id: RowId) -> None:
    """Delete the account; the database deletes its todos with it (ON DELETE CASCADE)."""
    result = session.execute(delete(User).where(col(User.id) == user_id))
    if result.rowcount == 0:  # type: ignore[attr-defined]
        session.rollback()
        raise UserNotFoundError(user_id)
    session.commit()
