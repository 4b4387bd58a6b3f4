"""Alembic migrations of the store schema (run by `SQLStore` when it opens a database)."""
