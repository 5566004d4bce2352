"""A local stand-in of the three Neon API v2 calls `tests/neon_api.py` makes.

Shaped on api-docs.neon.tech: bearer-token auth, `POST .../branches` answering
201 with `branch`, `endpoints`, `operations` and `connection_uris`,
`GET .../connection_uri` answering `{"uri": ...}` (the host gains `-pooler`
when `pooled=true`), `DELETE .../branches/{id}` answering 200, and errors as
`{"code": ..., "message": ...}` with 401 for a bad key and 404 for an unknown
project or branch.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

HOST = "ep-{0}.us-east-2.aws.neon.tech"


class NeonApiStandIn:
    def __init__(self, api_key: str, project_id: str) -> None:
        self.api_key, self.project_id = api_key, project_id
        self.branches: dict[str, dict[str, Any]] = {}  # id -> the request's "branch" object
        self.deleted: list[str] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: object) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:
                stand_in.handle(self, "POST")

            def do_GET(self) -> None:
                stand_in.handle(self, "GET")

            def do_DELETE(self) -> None:
                stand_in.handle(self, "DELETE")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/api/v2"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> NeonApiStandIn:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        status, body = self._answer(request, method)
        payload = json.dumps(body).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        request.wfile.write(payload)

    def _answer(  # noqa: PLR0911  one return per route
        self, request: BaseHTTPRequestHandler, method: str
    ) -> tuple[int, Any]:
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return 401, {"code": "", "message": "authentication required"}
        parts = urlsplit(request.path)
        prefix = f"/api/v2/projects/{self.project_id}"
        if not parts.path.startswith(prefix):
            return 404, {"code": "", "message": "project not found"}
        path, query = parts.path[len(prefix) :], parse_qs(parts.query)
        if method == "POST" and path == "/branches":
            length = int(request.headers.get("Content-Length", 0))
            return self._create(json.loads(request.rfile.read(length)))
        if method == "GET" and path == "/connection_uri":
            branch_id = query.get("branch_id", [""])[0]
            if branch_id not in self.branches:
                return 404, {"code": "", "message": "branch not found"}
            host = HOST.format(branch_id[3:] + ("-pooler" if query["pooled"] == ["true"] else ""))
            role, database = query["role_name"][0], query["database_name"][0]
            uri = f"postgresql://{role}:pw-{branch_id}@{host}/{database}?sslmode=require&channel_binding=require"
            return 200, {"uri": uri}
        match = re.fullmatch(r"/branches/(br-[\w-]+)", path)
        if method == "DELETE" and match and match[1] in self.branches:
            self.deleted.append(match[1])
            return 200, {"branch": {"id": match[1]}, "operations": []}
        return 404, {"code": "", "message": f"no route {method} {path}"}

    def _create(self, body: dict[str, Any]) -> tuple[int, Any]:
        branch = body.get("branch", {})
        if not body.get("endpoints") or "expires_at" not in branch:
            return 400, {"code": "", "message": "this stand-in expects an endpoint and expires_at"}
        branch_id = f"br-{uuid.uuid4().hex[:12]}"
        self.branches[branch_id] = branch
        endpoint = {"id": f"ep-{branch_id[3:]}", "host": HOST.format(branch_id[3:])}
        parameters = {"database": "neondb", "role": "neondb_owner", "host": endpoint["host"]}
        return 201, {
            "branch": {"id": branch_id, **branch},
            "endpoints": [endpoint],
            "operations": [{"id": str(uuid.uuid4()), "action": "create_branch"}],
            "connection_uris": [{"connection_uri": "", "connection_parameters": parameters}],
        }
