"""What the blocking and the asyncio example services share: request and response schemas.

The endpoints themselves are written twice on purpose (`sync_app.py`,
`async_app.py`): each is what a service author of that kind would copy.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import HTTPException, status
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from examples.auth import TokenSigner
from src.crud import TodoCounts, TodoPage
from src.crud.arguments import Cursor, PageSize
from src.models import TodoRead, User
from src.models.user import PASSWORD_MAX_LENGTH


class LoginRequest(BaseModel):
    """Only bounded in size: a login must work for passwords set under older rules."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    email: Annotated[str, Field(max_length=320)]
    password: Annotated[SecretStr, Field(max_length=PASSWORD_MAX_LENGTH)]


class TokenRead(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"


class ListQuery(BaseModel):
    """`GET /todos` query parameters, with the operation's own rules (refused with 422)."""

    model_config = ConfigDict(extra="forbid")

    completed: bool | None = None
    cursor: Cursor | None = None
    limit: PageSize = 50
    newest_first: bool = True


class TodoPageRead(BaseModel):
    items: list[TodoRead]
    next_cursor: str | None

    @classmethod
    def of(cls, page: TodoPage) -> TodoPageRead:
        items = [TodoRead.model_validate(todo) for todo in page.items]
        return cls(items=items, next_cursor=page.next_cursor)


class TodoCountsRead(BaseModel):
    total: int
    completed: int
    open: int

    @classmethod
    def of(cls, counts: TodoCounts) -> TodoCountsRead:
        return cls(total=counts.total, completed=counts.completed, open=counts.open)


def token_for(signer: TokenSigner, user: User | None) -> TokenRead:
    """A token for an authenticated user; the same 401 for an unknown email or a wrong password."""
    if user is None or user.id is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "wrong email or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return TokenRead(access_token=signer.issue(user.id))
