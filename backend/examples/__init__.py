"""An example todo service on the data layer: `sync_app` (def endpoints), `async_app` (async def).

    cd backend
    EXAMPLE_TOKEN_SECRET=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))') \
        ../.venv/bin/python -m examples.serve examples.sync_app:app --workers 2

`examples.serve` is uvicorn's command line with its `--workers` listener bound
as TCP (without it every keep-alive request waits about 44 ms for a delayed
ACK), the package's start-up lines shown, and exit status 3 when a worker
refuses to start. `DATABASE_URL` and the pool settings are read as everywhere
else (`.env.example`); the database must be migrated first, or the service
refuses to start and names the command.
"""
