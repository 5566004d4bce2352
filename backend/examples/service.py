"""What the blocking and the asyncio example services share: request and response schemas.

The endpoints themselves are written twice on purpose (`sync_app.py`,
`async_app.py`): each is what a service author of that kind would copy.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from src.api import TokenIssuer
from src.crud import TodoCounts, TodoPage
from src.crud.arguments import MAX_PAGE_SIZE, Cursor, EmailLookup, PageSize
from src.crud.search import SearchText
from src.models import TodoRead, User
from src.models.user import PASSWORD_MAX_LENGTH, CurrentPassword


class LoginRequest(BaseModel):
    """Only bounded in size: a login must work for passwords set under older rules."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    email: Annotated[
        EmailLookup,
        Field(description="As registered, in any letter case; an unknown one is a 401"),
    ]
    password: Annotated[
        SecretStr,
        Field(
            max_length=PASSWORD_MAX_LENGTH,
            description="Not held to today's password rules; a wrong one is a 401",
        ),
    ]


class DeactivationRequest(BaseModel):
    """`POST /users/me/deactivate`: the password confirms it, as it confirms every change."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    current_password: CurrentPassword


class TokenRead(BaseModel):
    access_token: str = Field(description="Send it as `Authorization: Bearer <access_token>`")
    token_type: Literal["bearer"] = "bearer"


class ListQuery(BaseModel):
    """`GET /todos` query parameters, with the operation's own rules (refused with 422)."""

    model_config = ConfigDict(extra="forbid")

    completed: bool | None = Field(
        default=None, description="Only completed (true) or open (false) todos; all if omitted"
    )
    cursor: Cursor | None = Field(
        default=None,
        description="The `next_cursor` of the previous page. Only a cursor this service issued "
        "for the same `completed`, `newest_first` and `search` is accepted; any other is a 400.",
    )
    limit: PageSize = Field(default=50, description=f"Todos per page, 1 to {MAX_PAGE_SIZE}")
    newest_first: bool = True
    search: SearchText | None = None


# `GET /todos/counts?search=`: counts what `GET /todos` lists with the same search.
SearchQuery = Annotated[SearchText | None, Query()]


class TodoPageRead(BaseModel):
    items: list[TodoRead] = Field(max_length=MAX_PAGE_SIZE)
    next_cursor: str | None = Field(description="The next page's `cursor`; null on the last page")

    @classmethod
    def of(cls, page: TodoPage) -> TodoPageRead:
        items = [TodoRead.model_validate(todo) for todo in page.items]
        return cls(items=items, next_cursor=page.next_cursor)


class TodoCountsRead(BaseModel):
    total: int = Field(ge=0)
    completed: int = Field(ge=0)
    open: int = Field(ge=0)

    @classmethod
    def of(cls, counts: TodoCounts) -> TodoCountsRead:
        return cls(total=counts.total, completed=counts.completed, open=counts.open)


def token_for(issuer: TokenIssuer, user: User | None) -> TokenRead:
    """A JWT for an authenticated user; the same 401 for an unknown email or a wrong password."""
    if user is None or user.id is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "wrong email or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return TokenRead(access_token=issuer.issue(user.id))
