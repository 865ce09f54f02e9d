"""Railcast's own state in one SQL database (SQLAlchemy, migrated by Alembic): the alias history today.

SQLite under RAILCAST_HOME by default, PostgreSQL when RAILCAST_DB_URL is set. Domain-free platform:
imports the shared core only.
"""
