"""Falcon middleware: the database connection around each request."""

from db import database


class DatabaseConnection:
    """Return the request's connection (opened lazily by the first query) to the pool when it ends.

    Routes that never query, such as /healthz, never open one.
    """

    def process_response(self, req, resp, resource, req_succeeded):
        database.close()  # a no-op when the request opened none
