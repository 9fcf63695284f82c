"""Changing a table's CHECK constraint in a migration, on both databases, without copying the table.

PostgreSQL replaces the named constraint. SQLite cannot alter a constraint; its documented way
(https://www.sqlite.org/lang_altertable.html, "making other kinds of table schema changes") for a change that
every stored row already satisfies is to edit the table's CREATE text in sqlite_master and bump the schema
version: no copy, so the table's triggers, indexes and column constraints stay as they are."""

from __future__ import annotations

from sqlalchemy import Connection


def replace_check(bind: Connection, *, table: str, name: str, was: str, becomes: str) -> None:
    """The CHECK `name` of `table`: from the condition `was` (as written when it was made) to `becomes`. Every
    row must satisfy `becomes` already (SQLite does not check them again)."""
    if bind.dialect.name == "postgresql":
        bind.exec_driver_sql(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        bind.exec_driver_sql(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" CHECK ({becomes})')
        return
    query = "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?"
    (sql,) = bind.exec_driver_sql(query, (table,)).one()
    if sql.count(was) != 1:
        raise RuntimeError(f"{table}'s CHECK {name} is not {was!r}; not changed")
    (schema_version,) = bind.exec_driver_sql("PRAGMA schema_version").one()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    bind.exec_driver_sql(
        "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?", (sql.replace(was, becomes), table)
    )
    bind.exec_driver_sql(f"PRAGMA schema_version = {schema_version + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")
