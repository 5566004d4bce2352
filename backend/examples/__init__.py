"""An example todo service on the data layer: `sync_app` (def endpoints), `async_app` (async def).

    cd backend
    EXAMPLE_TOKEN_SECRET=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))') \
        ../.venv/bin/uvicorn examples.sync_app:app --workers 2

`DATABASE_URL` and the pool settings are read as everywhere else (`.env.example`).
"""
