"""Alembic environment: runs migrations on the app's own engine and metadata."""

import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

migrate_extension = current_app.extensions["migrate"]
database = migrate_extension.db
target_metadata = database.metadata


def run_migrations_offline():
    """Emit SQL to stdout (`flask db upgrade --sql`) instead of running it."""
    context.configure(
        url=database.engine.url.render_as_string(hide_password=False),
        target_metadata=target_metadata,
        literal_binds=True,
        **migrate_extension.configure_args,
    )
    with context.begin_transaction():
        context.run_migrations()


def skip_empty_autogenerate(context, revision, directives):
    """`flask db migrate` with no model change writes no empty revision."""
    if getattr(config.cmd_opts, "autogenerate", False):
        script = directives[0]
        if script.upgrade_ops.is_empty():
            directives[:] = []
            logger.info("No changes in schema detected.")


def run_migrations_online():
    configure_args = {"process_revision_directives": skip_empty_autogenerate}
    configure_args.update(migrate_extension.configure_args)
    with database.engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, **configure_args)
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                # The app's statement timeout (DATABASE_STATEMENT_TIMEOUT) is for requests;
                # a migration may rewrite a big table. Its lock_timeout stays, so a migration
                # that cannot get its lock fails instead of queueing every request behind it.
                connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
