"""FastAPI integration: sessions, the caller's user id (from a JWT), errors as HTTP answers.

FastAPI is an optional dependency (`pip install todo-data-layer[api]`): only
this subpackage imports it, and nothing else in `src` imports this subpackage.

    from src.api import SessionDep, TokenVerifier, register_error_handlers, verified_user_id

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
from src.api.lifespan import database_lifespan
from src.api.params import TodoIdPath
from src.api.responses import error_responses
from src.api.tokens import (
    InvalidBearerTokenError,
    SigningKeysUnavailableError,
    TokenConfigError,
    TokenIssuer,
    TokenSettings,
    TokenVerifier,
    bearer_scheme,
)

__all__ = [
    "RETRY_AFTER_S",
    "AsyncSessionDep",
    "InvalidBearerTokenError",
    "SessionDep",
    "SigningKeysUnavailableError",
    "TodoIdPath",
    "TokenConfigError",
    "TokenIssuer",
    "TokenSettings",
    "TokenVerifier",
    "UserIdVerifierError",
    "bearer_scheme",
    "database_lifespan",
    "error_responses",
    "register_error_handlers",
    "request_session",
    "verified_user_id",
]
