"""A flush that keeps content types and permissions, for transactional tests.

After each transactional test (`django_db(transaction=True)`: every test of
a socket, whose views run in other threads) Django empties every table and
then, through post_migrate, writes every content type and permission again:
about 50 ms a test here, most of the in-process tier's time. Those two
tables only ever hold what the migrations put there, so they are kept and
post_migrate is not sent again; everything else is emptied as before.
"""

from django.core.management.commands import flush

KEPT_TABLES = {"django_content_type", "auth_permission"}


def sql_flush_keeping_permissions(style, connection, **options):
    tables = connection.introspection.django_table_names(
        only_existing=True, include_views=False
    )
    kept = [table for table in tables if table not in KEPT_TABLES]
    return connection.ops.sql_flush(style, kept, **options)


def keep_permissions(monkeypatch):
    """Make Django's flush command (as the test cases call it) keep the two tables."""
    monkeypatch.setattr(flush, "sql_flush", sql_flush_keeping_permissions)
    monkeypatch.setattr(flush, "emit_post_migrate_signal", lambda *args: None)
