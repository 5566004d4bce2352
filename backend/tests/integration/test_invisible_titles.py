"""A title must show something: invisible characters alone are blank.

The schemas refuse them (`must contain a visible character`), and the
database's CHECK trims the same characters on both backends, so raw SQL
cannot store them either.
"""

from __future__ import annotations

from typing import Any, cast

import pytest
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Session

from src import crud
from src.crud import aio
from src.models import TodoCreate, User
from tests.conftest import act_as, uid

BLANK = r"visible character|at least 1 character"  # str.strip already removes some
INVISIBLE_TITLES = [
    "\u200b",  # zero-width space
    "\ufeff",  # byte-order mark
    "\u3164",  # Hangul filler
    "\u2800",  # braille blank
    "\u200b\u200c\u200d\u2060",  # zero-width (non-)joiners, word joiner
    "\u00ad\u034f\u180e",  # soft hyphen, combining grapheme joiner, Mongolian vowel separator
    "\u115f\u1160\uffa0",  # Hangul choseong / jungseong / halfwidth fillers
    "\ufe0f\U000e0100",  # variation selectors
    "\U000e0041\U000e007f",  # tag characters
    "\u2028\u2029\u3000\u00a0\u202f",  # line / paragraph separators, wide and narrow spaces
    "\u202e\u2066\u2069",  # bidirectional controls
    " \u200b\t\ufeff ",
]
VISIBLE_TITLES = ["a\u200b", "\u200bx\u200b", "\u0600", "한", "⠁", "\u00a0.\u00a0"]


@pytest.mark.parametrize("title", INVISIBLE_TITLES)
def test_a_title_of_invisible_characters_is_refused_everywhere(
    session: Session, ann: User, title: str
) -> None:
    with pytest.raises(ValidationError, match=BLANK):
        crud.create_todo(session, uid(ann), cast(Any, {"title": title}))
    todo = crud.create_todo(session, uid(ann), TodoCreate(title="seen"))
    with pytest.raises(ValidationError, match=BLANK):
        crud.update_todo(session, uid(ann), todo.id or 0, cast(Any, {"title": title}))
    act_as(session, uid(ann))
    insert = text("INSERT INTO todo (user_id, title) VALUES (:user_id, :title)")
    with pytest.raises(IntegrityError), session.begin_nested():
        session.execute(insert, {"user_id": uid(ann), "title": title})


@pytest.mark.parametrize("title", VISIBLE_TITLES)
def test_titles_with_a_visible_character_are_kept(session: Session, ann: User, title: str) -> None:
    todo = crud.create_todo(session, uid(ann), TodoCreate(title=title))
    assert crud.get_todo(session, uid(ann), todo.id or 0).title == title.strip()


async def test_async_invisible_title_is_refused(async_session: AsyncSession) -> None:
    with pytest.raises(ValidationError, match=BLANK):
        await aio.create_todos(
            async_session, 1, [TodoCreate(title="ok"), cast(Any, {"title": "\u3164"})]
        )
