"""What every model shares: the database handle, UTC timestamps and the JSON codec of JSON columns."""

from __future__ import annotations

import datetime as dt

import orjson
import peewee

from db.connection import database


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)  # stored naive, always UTC


def ms(start: dt.datetime, end: dt.datetime) -> float:
    return round((end - start).total_seconds() * 1000, 3)


def dumps(value) -> str:
    """JSON for the JSON columns (and the API's responses): orjson, several times faster than the standard
    library on the long float lists of embeddings."""
    return orjson.dumps(value).decode()


class BaseModel(peewee.Model):
    class Meta:
        database = database
