"""Request parameters carrying the operations' own rules, so bad client input never reaches one.

Only the client's own input may be answered with a 4xx. FastAPI judges what
a request carries (path, query, body) and answers a broken rule with 422
naming the field; a `ValidationError` raised later, inside an endpoint, comes
from the server's side (its settings, its verifier, its own code) and is a
500 (`errors.py`). So every value an endpoint passes on to an operation must
be declared with the rule the operation applies: these types take their
bounds from `src.crud.arguments`, where the operations take theirs, and
publish them in the OpenAPI schema, as `minimum`/`maximum` (`ge=1`, not
`gt=0`: the same rule for integers, said the way clients read a range).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from src.crud.arguments import MAX_ID

TodoIdPath = Annotated[
    int, Path(ge=1, le=MAX_ID, description="A todo's id: 1 to 2^63-1 (PostgreSQL BIGINT)")
]
"""A todo id in the path, e.g. `/todos/{todo_id}`."""
