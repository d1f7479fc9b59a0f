"""Extensions are created once here and bound to the app in `create_app`."""
import click
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_mail import Mail
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Named constraints so Alembic migrations are reproducible on SQLite and PostgreSQL.
# Where create_app leaves itself in app.extensions: how to build this application again in a new process (the
# dispatcher's helper processes), without features importing the package that builds them.
APP_FACTORY = "scheduler.factory"

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Migrations:
    """Flask-Migrate, loaded only when something uses it (`flask db …`, `flask_migrate.upgrade()` in tests).

    Importing it imports Alembic, a fifth of a second or more that the processes which never migrate pay at
    every start (gunicorn workers, the clock, `flask dispatch-outbox`). `init_app` puts a stand-in in
    app.extensions["migrate"] and a `db` command group that load the real ones on first use.
    """

    def __init__(self, **options):
        self.options = options

    def init_app(self, app, db, directory: str) -> None:
        app.extensions["migrate"] = _MigrateOnDemand(app, db, directory, self.options)
        app.cli.add_command(_MigrationCommands(app))

    @staticmethod
    def load(app):
        """The real Flask-Migrate config for this app, set up on first call."""
        current = app.extensions["migrate"]
        if isinstance(current, _MigrateOnDemand):
            from flask_migrate import Migrate

            Migrate(app, current.db, directory=current.directory, **current.options)  # replaces the stand-in
        return app.extensions["migrate"]


class _MigrateOnDemand:
    def __init__(self, app, db, directory, options):
        self.app, self.db, self.directory, self.options = app, db, directory, options

    def __getattr__(self, name):
        return getattr(Migrations.load(self.app), name)


class _MigrationCommands(click.Group):
    """`flask db`: Flask-Migrate's command group, imported when the command runs."""

    def __init__(self, app):
        super().__init__(name="db", help="Perform database migrations (Flask-Migrate, Alembic).")
        self.app = app

    def _real(self) -> click.Group:
        Migrations.load(self.app)
        from flask_migrate.cli import db as commands

        return commands

    def make_context(self, info_name, args, parent=None, **extra):
        return self._real().make_context(info_name, args, parent=parent, **extra)

    def list_commands(self, ctx):
        return self._real().list_commands(ctx)

    def get_command(self, ctx, name):
        return self._real().get_command(ctx, name)


db = SQLAlchemy(model_class=Base)
migrate = Migrations(render_as_batch=True)
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
mail = Mail()
# Per client address; headers on, so every 429 says when to come back (Retry-After).
limiter = Limiter(key_func=get_remote_address, headers_enabled=True)
