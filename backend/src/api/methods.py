"""A method a path does not declare is a 405 naming the path's methods, as OpenAPI reads paths.

Starlette answers a request route by route. Two things then disagree with the
published schema:

- Each method is its own route, so a 405 lists the methods of the first route
  whose path matched (`OPTIONS /todos/1` answered `Allow: GET` while the path
  also takes PATCH and DELETE). RFC 9110 asks `Allow` to list the resource's
  methods: here, every method declared on the path.
- A templated path takes any segment, so `PATCH /todos/counts` reached
  `PATCH /todos/{todo_id}` with `todo_id="counts"` and was refused as a bad id
  (422). OpenAPI matches a concrete path before a templated one
  (`/todos/counts` before `/todos/{todo_id}`), so `/todos/counts` is a
  resource of its own whose only method is GET: the answer is 405, `Allow: GET`.

`DeclaredMethods` decides both before routing, from the app's routes: the
methods of a path are those of the routes of the concrete path equal to it,
or else of every templated path that matches it. A method among them goes on
to the router unchanged; any other method is answered 405 with those methods
in `Allow`; a path no route matches goes on to the router's 404.
`register_error_handlers` installs it, innermost among the app's middleware.

Which route serves a declared method stays the router's choice, in
declaration order: declare a concrete path before a templated one that
matches it (`/todos/counts` before `/todos/{todo_id}`), as the examples do.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from starlette._utils import get_route_path  # the path as the router matches it (no root_path)
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send


class _PathMethods:
    """Each declared path and its methods, concrete paths apart from templated ones."""

    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        self.route_count = len(routes)
        self.concrete: dict[str, frozenset[str]] = {}
        templated: dict[str, tuple[re.Pattern[str], frozenset[str]]] = {}
        for route in routes:
            methods = getattr(route, "methods", None)
            if not isinstance(route, Route) or not methods:  # mounts, websockets: not ours
                continue
            if not route.param_convertors:
                self.concrete[route.path] = self.concrete.get(route.path, frozenset()) | methods
            else:
                _, known = templated.get(route.path, (route.path_regex, frozenset()))
                templated[route.path] = (route.path_regex, known | methods)
        self.templated = tuple(templated.values())

    def of(self, path: str) -> frozenset[str] | None:
        """The methods declared for `path`, or None if no route's path matches it."""
        concrete = self.concrete.get(path)
        if concrete is not None:
            return concrete
        matched = [methods for regex, methods in self.templated if regex.match(path)]
        return frozenset().union(*matched) if matched else None


class DeclaredMethods:
    """ASGI middleware: 405 with the path's declared methods in `Allow`, before routing."""

    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.routes = routes  # the router's own list: routes declared later are seen
        self._paths: _PathMethods | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if self._paths is None or self._paths.route_count != len(self.routes):
                self._paths = _PathMethods(self.routes)
            allowed = self._paths.of(get_route_path(scope))
            if allowed is not None and scope["method"] not in allowed:
                answer = JSONResponse(
                    {"detail": "Method Not Allowed"},
                    status_code=405,
                    headers={"Allow": ", ".join(sorted(allowed))},
                )
                await answer(scope, receive, send)
                return
        await self.app(scope, receive, send)
