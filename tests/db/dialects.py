"""Marks for a `db` test meaningful on one dialect only (the `database` fixture runs the others on both)."""

import pytest

sqlite_only = pytest.mark.parametrize("database", ["sqlite"], indirect=True)
postgresql_only = pytest.mark.parametrize("database", ["postgresql"], indirect=True)
