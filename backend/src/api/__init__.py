"""FastAPI integration: session dependencies, the caller's user id, errors as HTTP answers.

FastAPI is an optional dependency (`pip install todo-data-layer[api]`): only
this subpackage imports it, and nothing else in `src` imports this subpackage.

    from src.api import SessionDep, register_error_handlers, verified_user_id

`backend/examples/` holds a complete service built on it, blocking and asyncio.
"""

from src.api.deps import (
    AsyncSessionDep,
    SessionDep,
    UserIdVerifierError,
    request_session,
    verified_user_id,
)
from src.api.errors import RETRY_AFTER_S, register_error_handlers
from src.api.lifespan import close_database_on_shutdown
from src.api.params import TodoIdPath

__all__ = [
    "RETRY_AFTER_S",
    "AsyncSessionDep",
    "SessionDep",
    "TodoIdPath",
    "UserIdVerifierError",
    "close_database_on_shutdown",
    "register_error_handlers",
    "request_session",
    "verified_user_id",
]
