"""The database every feature keeps its data in (SQLAlchemy 2.0).

`DATABASE_URL` picks it: `sqlite:///./petsage.db` by default, `postgresql+psycopg://...` works
unchanged. Feature tables derive from `Base`; routes take a `SessionDep`. The schema is made and
changed by Alembic (`alembic upgrade head`); the tests make their own fresh database.
"""

import os
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends
from sqlalchemy import Engine, MetaData, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

DATABASE_URL = os.environ.get("DATABASE_URL", "sqlite:///./petsage.db")

# Named constraints, so that migrations can change them on every database (SQLite included).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """The declarative base of every feature's table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class MissingReference(Exception):
    """A field refers to a row that does not exist (the API answers 422 naming the field)."""

    def __init__(self, field: str, table: str, value: object) -> None:
        super().__init__(f"{field}: no {table} has id {value}")
        self.field = field


class StillReferenced(Exception):
    """A row cannot be deleted while other rows refer to it (the API answers 409)."""


def make_engine(url: str, **options: Any) -> Engine:
    """An engine for `url`; on SQLite, foreign keys are enforced as on every other database."""
    if url.startswith("sqlite"):
        options.setdefault("connect_args", {"check_same_thread": False})
    engine = create_engine(url, **options)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_foreign_keys)
    return engine


def _sqlite_foreign_keys(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


engine = make_engine(DATABASE_URL)
SessionLocal = sessionmaker(bind=engine, expire_on_commit=False)


def get_session() -> Iterator[Session]:
    """One session a request (the tests replace it with their own database)."""
    with SessionLocal() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
