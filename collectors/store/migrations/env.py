"""Alembic environment: migrates the connection that `SQLStore` passes in.

`collectors.store.sql` runs ``alembic.command.upgrade`` with a `Config` whose
``attributes["connection"]`` holds an open connection inside a transaction, so no
alembic.ini and no URL are needed. Offline (SQL script) mode is not supported.
"""

from __future__ import annotations

from alembic import context

from collectors.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "runlog's migrations run on a connection passed by SQLStore "
        "(config.attributes['connection']); open the store with collectors.store.open_store"
    )

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
