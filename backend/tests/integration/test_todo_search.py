"""Search: the caller's todos whose title or description contains a text, in any letter case.

Every test runs on each backend (SQLite, PostgreSQL as the application role
under row security, PgBouncer); the rules are those of `src.crud.search`:
full Unicode lower case on both sides, LIKE's
characters literal, the same keyset paging, filter and order as without a
search, and a cursor bound to its search.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy import Text, bindparam, delete, func, literal, null, select
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Session, col

from src import crud
from src.crud import aio
from src.crud.search import SEARCH_MAX_LENGTH, lowered
from src.errors import InvalidCursorError
from src.models import Todo, TodoCreate, User
from tests.conftest import act_as, add_user_async, statements_sent, tid, uid

# The argument-rule tests pass wrong types on purpose; the checker must let them.
unchecked: Any = crud


def add(session: Session, user: User, *todos: tuple[str, str | None]) -> list[int]:
    """Create `(title, description)` todos for `user`, oldest first; their ids."""
    return [
        tid(crud.create_todo(session, uid(user), TodoCreate(title=title, description=text)))
        for title, text in todos
    ]


def found(session: Session, user: User, search: str | None, **options: Any) -> list[int]:
    """The ids of every todo `list_todos` finds with `search`, following cursors to the end."""
    ids, cursor = [], None
    while True:
        page = crud.list_todos(session, uid(user), search=search, cursor=cursor, **options)
        ids += [tid(todo) for todo in page.items]
        if page.next_cursor is None:
            return ids
        cursor = page.next_cursor


def expected(todos: list[Todo], search: str) -> list[int]:
    """The Python-side rule: `search`, trimmed and lower-cased, inside the lower-cased texts."""
    key = search.strip().lower()
    return [
        tid(todo)
        for todo in todos
        if key in todo.title.lower() or key in (todo.description or "").lower()
    ]


def test_search_finds_the_text_in_title_or_description_in_any_letter_case(
    session: Session, ann: User
) -> None:
    in_title, in_text, neither, milch = add(
        session,
        ann,
        ("Buy MILK", None),
        ("Shopping", "oat Milk, bread"),
        ("Call mum", "about the bread"),
        ("Milch kaufen", None),
    )
    assert found(session, ann, "milk") == [in_text, in_title]  # newest first
    assert found(session, ann, "MiLk", newest_first=False) == [in_title, in_text]
    assert found(session, ann, "MILCH") == [milch]
    assert found(session, ann, "bread") == [neither, in_text]
    assert found(session, ann, "butter") == []


@pytest.mark.parametrize(
    ("search", "title", "finds"),
    [
        ("ÄPFEL", "äpfel kaufen", True),
        ("äpfel", "ÄPFEL KAUFEN", True),
        ("МОЛОКО", "купить молоко", True),
        ("ΣΟΦΙΑ", "σοφια", True),
        ("ẞ", "Fuß", True),  # capital sharp s lowers to ß
        ("İstanbul", "İSTANBUL trip", True),
        ("straße", "STRASSE", False),  # lower case, not case folding: ß is not ss
        ("STRASSE", "Straße", False),
        ("strasse", "STRASSE", True),
        ("cafe", "café", False),  # accents are letters of their own
    ],
)
def test_letter_case_is_unicode_lower_case_on_every_backend(
    session: Session, ann: User, search: str, title: str, finds: bool
) -> None:
    (todo,) = add(session, ann, (title, None))
    assert found(session, ann, search) == ([todo] if finds else [])
    assert crud.count_todos(session, uid(ann), search=search).total == int(finds)


def test_percent_underscore_and_backslash_in_the_search_are_literal(
    session: Session, ann: User
) -> None:
    percent, thousand, snake, camel, backslash, colon = add(
        session,
        ann,
        ("100% done", None),
        ("1000 done", None),
        ("snake_case", None),
        ("snakeXcase", None),
        ("C:\\temp", None),
        ("C:temp", "no path"),
    )
    assert found(session, ann, "100%") == [percent]
    assert found(session, ann, "%") == [percent]
    assert found(session, ann, "e_c") == [snake]
    assert found(session, ann, "_") == [snake]
    assert found(session, ann, "\\") == [backslash]
    assert found(session, ann, "c:\\t") == [backslash]
    assert found(session, ann, "\\%") == []
    assert found(session, ann, "[a-z]") == []
    assert found(session, ann, "c:t") == [colon]
    assert found(session, ann, "snake") == [camel, snake]
    assert found(session, ann, "10") == [thousand, percent]


def test_another_users_matching_todos_never_appear(session: Session, ann: User, bob: User) -> None:
    """On PostgreSQL the session is the application role: row security holds it too."""
    add(session, bob, *[(f"milk {i}", "milk") for i in range(7)])
    mine = add(session, ann, ("milk", None), ("tea", "with milk"), ("tea", None))
    bobs = found(session, bob, "milk")
    assert found(session, ann, "milk", limit=1) == mine[1::-1]
    assert len(bobs) == 7
    assert not set(bobs) & set(found(session, ann, "milk"))
    assert crud.count_todos(session, uid(ann), search="milk").total == 2
    assert crud.count_todos(session, uid(bob), search="milk").total == 7


def test_search_pages_keep_the_order_filter_and_page_size_of_the_list(
    session: Session, ann: User
) -> None:
    ids = [
        tid(
            crud.create_todo(
                session,
                uid(ann),
                TodoCreate(title=f"task {i}", description="milk" if i % 3 else None),
            )
        )
        for i in range(14)
    ]
    matching = [todo for i, todo in enumerate(ids) if i % 3]
    done = set(ids[::2])
    for todo in done:
        crud.set_completed(session, uid(ann), todo, True)
    for newest_first in (True, False):
        in_order = matching[::-1] if newest_first else matching
        for limit in (1, 2, 3, 50):
            options = {"limit": limit, "newest_first": newest_first}
            assert found(session, ann, "milk", **options) == in_order
            assert found(session, ann, "MILK", completed=True, **options) == [
                todo for todo in in_order if todo in done
            ]
            assert found(session, ann, "milk", completed=False, **options) == [
                todo for todo in in_order if todo not in done
            ]
    first = crud.list_todos(session, uid(ann), search="milk", limit=4)
    assert [tid(t) for t in first.items] == matching[:-5:-1]
    assert first.next_cursor is not None


def test_count_todos_counts_what_the_search_lists(session: Session, ann: User) -> None:
    ids = add(session, ann, ("Milk", None), ("x", "MILK"), ("y", None), ("milky way", "z"))
    crud.set_completed(session, uid(ann), ids[0], True)
    counts = crud.count_todos(session, uid(ann), search="milk")
    assert (counts.total, counts.completed, counts.open) == (3, 1, 2)
    assert crud.count_todos(session, uid(ann), search="nothing").total == 0
    assert crud.count_todos(session, uid(ann)).total == 4


def test_a_cursor_is_bound_to_its_search(session: Session, ann: User) -> None:
    add(session, ann, *[(f"milk and bread {i}", None) for i in range(4)])
    milk = crud.list_todos(session, uid(ann), search="milk", limit=2).next_cursor
    plain = crud.list_todos(session, uid(ann), limit=2).next_cursor
    assert milk is not None
    assert plain is not None
    with pytest.raises(InvalidCursorError, match="belongs to another search"):
        crud.list_todos(session, uid(ann), search="bread", cursor=milk)
    with pytest.raises(InvalidCursorError, match="malformed or has been altered"):
        crud.list_todos(session, uid(ann), cursor=milk)
    with pytest.raises(InvalidCursorError, match="belongs to another list"):
        crud.list_todos(session, uid(ann), search="milk", cursor=plain)
    with pytest.raises(InvalidCursorError, match="belongs to another list"):
        crud.list_todos(session, uid(ann), search="milk", cursor=milk, completed=False)
    # The same query: surrounding spaces are trimmed and letter case does not change a result.
    for same in ("milk", " MILK ", "Milk"):
        page = crud.list_todos(session, uid(ann), search=same, cursor=milk, limit=2)
        assert len(page.items) == 2
    assert len(crud.list_todos(session, uid(ann), cursor=plain, limit=2).items) == 2


EVERY_CHARACTER = [chr(c) for c in range(1, 0x110000) if not 0xD800 <= c <= 0xDFFF]
IN_CONTEXT = [  # the lower case of these depends on the letters around them
    "\u03a3",
    "A\u03a3",
    "A\u03a3 B",
    "A\u03a3B",
    "A\u03a3.",
    "A\u0307\u03a3",
    "\u0130stanbul",
    "\u0130\u0307",
]


def test_postgresql_lowers_every_character_as_python_does(backend: str, session: Session) -> None:
    """The search's lower case on PostgreSQL (ICU's root locale) is Python's, which SQLite runs."""
    if backend != "postgresql":
        pytest.skip("SQLite runs Python's own str.lower; PgBouncer reaches the same server")
    # Every character at once: split into characters there, lowered one by one, joined.
    characters = (
        func.string_to_table(bindparam("text", type_=Text), null())
        .table_valued("x", with_ordinality="n")
        .render_derived()
    )
    joined = select(
        func.string_agg(lowered(characters.c.x), aggregate_order_by(literal(""), characters.c.n))
    )
    there = session.scalar(joined, {"text": "".join(EVERY_CHARACTER)})
    here = "".join(c.lower() for c in EVERY_CHARACTER)
    if there != here:
        at = next(i for i, (a, b) in enumerate(zip(here, str(there), strict=False)) if a != b)
        pytest.fail(f"lower case differs from U+{ord(here[at]):04X}'s neighbourhood")
    texts = (
        func.unnest(bindparam("texts", type_=ARRAY(Text)))
        .table_valued("x", with_ordinality="n")
        .render_derived()
    )
    in_context = select(lowered(texts.c.x)).order_by(texts.c.n)
    assert session.scalars(in_context, {"texts": IN_CONTEXT}).all() == [
        text.lower() for text in IN_CONTEXT
    ]
    session.rollback()


TOO_LONG = "m" * (SEARCH_MAX_LENGTH + 1)


@pytest.mark.parametrize(
    ("search", "rule"),
    [
        ("", "string_too_short"),
        ("   \t\n", "string_too_short"),
        ("\u200b\u2800", "value_error"),  # only invisible characters
        (TOO_LONG, "string_too_long"),
        (" " + TOO_LONG + " ", "string_too_long"),
        ("milk\x00", "value_error"),
        ("milk\ud800", "string_unicode"),
        (b"milk", "string_type"),
        (7, "string_type"),
    ],
)
def test_a_search_text_that_breaks_a_rule_is_refused_naming_search_before_any_sql(
    session: Session, ann: User, search: object, rule: str
) -> None:
    engine = session.get_bind().engine
    for operation in (unchecked.list_todos, unchecked.count_todos):
        with statements_sent(engine) as sent, pytest.raises(ValidationError) as refused:
            operation(session, uid(ann), search=search)
        assert sent == []
        (error,) = refused.value.errors()
        assert (error["loc"], error["type"]) == (("search",), rule)


def test_a_search_of_the_longest_length_after_trimming_is_accepted(
    session: Session, ann: User
) -> None:
    longest = "m" * SEARCH_MAX_LENGTH
    (todo,) = add(session, ann, ("x", longest))
    assert found(session, ann, f"  {longest.upper()}\n") == [todo]


# Letters whose lower case is special (sharp s, the sigmas, dotted capital I),
# a combining dot, a space and LIKE's characters.
TRICKY = st.sampled_from(list("aAäÄßẞ\u03c3\u03c2\u03a3İi \u0307%_\\xX"))


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=40)
@given(
    texts=st.lists(
        st.tuples(
            st.text(TRICKY, min_size=1, max_size=8),
            st.none() | st.text(TRICKY, max_size=8),
        ),
        max_size=8,
    ),
    search=st.text(TRICKY, min_size=1, max_size=3),
)
def test_search_results_equal_a_python_filter_of_the_users_todos(
    session: Session, ann: User, bob: User, texts: list[tuple[str, str | None]], search: str
) -> None:
    if not search.strip():
        return  # a blank search is refused (tested above)
    made = [("x" + title, text) for title, text in texts]  # a visible title
    add(session, bob, *made)  # the same todos for another user: never found
    add(session, ann, *made)
    try:
        todos = crud.list_todos(session, uid(ann), limit=200, newest_first=False).items
        assert found(session, ann, search, newest_first=False, limit=3) == expected(todos, search)
        total = crud.count_todos(session, uid(ann), search=search).total
        assert total == len(expected(todos, search))
    finally:
        for user in (ann, bob):
            act_as(session, uid(user))
            session.execute(delete(Todo).where(col(Todo.user_id) == uid(user)))
            session.commit()


async def test_async_search_pages_counts_and_binds_cursors_like_the_blocking_path(
    async_session: AsyncSession,
) -> None:
    ann = await add_user_async(async_session, "ann@example.com")
    bob = await add_user_async(async_session, "bob@example.com")
    for user in (ann, bob):
        items = [TodoCreate(title=f"Milk {i}" if i % 2 else f"tea {i}") for i in range(7)]
        await aio.create_todos(async_session, user, items)
    ids: list[int] = []
    page = await aio.list_todos(async_session, ann, search="MILK", limit=2)
    while True:
        ids += [tid(todo) for todo in page.items]
        assert all(todo.user_id == ann and "Milk" in todo.title for todo in page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
        with pytest.raises(InvalidCursorError):
            await aio.list_todos(async_session, ann, search="tea", cursor=cursor)
        page = await aio.list_todos(async_session, ann, search="milk", limit=2, cursor=cursor)
    assert len(ids) == len(set(ids)) == 3
    assert ids == sorted(ids, reverse=True)
    assert (await aio.count_todos(async_session, ann, search="milk")).total == 3
    with pytest.raises(ValidationError) as refused:
        await aio.count_todos(async_session, ann, search=" ")
    assert refused.value.errors()[0]["loc"] == ("search",)
