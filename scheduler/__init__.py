"""Meeting logistics for the 'Liderzy kooperacji' project."""
from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, has_request_context, request, session
from flask_babel import get_locale
from flask_babel import refresh as babel_refresh

from .extensions import APP_FACTORY, babel, csrf, db, limiter, login_manager, mail, migrate

ROOT = Path(__file__).resolve().parent.parent


def _select_locale() -> str:
    from flask import current_app

    languages = current_app.config["LANGUAGES"]
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    chosen = request.args.get("lang")
    if request.path.startswith("/api/"):
        # API clients keep no session; they name their language per request (Polish unless they ask).
        return chosen if chosen in languages else (
            request.accept_languages.best_match(languages) or current_app.config["BABEL_DEFAULT_LOCALE"])
    if chosen in languages:
        session["lang"] = chosen
        return chosen
    return session.get("lang") if session.get("lang") in languages else current_app.config["BABEL_DEFAULT_LOCALE"]


def create_app(test_config: dict | None = None) -> Flask:
    """Build the application; `test_config` overrides the environment's configuration."""
    from config import CONFIGS

    app = Flask(__name__, template_folder=str(ROOT / "templates"), instance_path=str(ROOT / "instance"))
    from .validation import DatabaseIdConverter, Utf8FormRequest

    # Before any route is added: every `<int:...>` stops at the database's integer, and undecodable form
    # bytes reach the domain as U+FFFD (refused by clean_text), not as a look-alike "%FF".
    app.url_map.converters["int"] = DatabaseIdConverter
    app.request_class = Utf8FormRequest
    env = os.environ.get("APP_ENV", "test" if test_config is not None else "development")
    app.config.from_object(CONFIGS[env])
    app.config["APP_ENV"] = env
    if test_config:
        app.config.update(test_config)
    if env == "production" and app.config["SECRET_KEY"] in (None, "", "dev-only-not-secret"):
        raise RuntimeError("SECRET_KEY must be set in production (APP_ENV=production).")
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    csrf.init_app(app)
    babel.init_app(app, locale_selector=_select_locale)
    # Each request chooses its language afresh: Flask-Babel caches the locale on the application context,
    # which outlives the request when something pushed it around requests (the test suite, a CLI command),
    # and a cached Polish would then ignore a later ?lang=en, and vice versa.
    app.before_request(babel_refresh)
    app.teardown_request(lambda _exc: babel_refresh())
    mail.init_app(app)
    limiter.init_app(app)
    if app.config.get("TRUSTED_PROXIES"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Per-address limits need the client's address, not the proxy's.
        proxies = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)

    from . import models  # noqa: F401  (registers every table)
    from .database import configure_sqlite, end_read_transaction, writes_blueprint

    with app.app_context():
        configure_sqlite(db.engine, app.config["SQLITE_BUSY_TIMEOUT"])
    app.teardown_request(end_read_transaction)

    from .errors import register_error_handlers
    from .web.filters import register_template_helpers

    register_error_handlers(app)
    from .security import install_log_redaction

    install_log_redaction(app)  # personal and manage links never reach a log
    register_template_helpers(app)

    from .admin.projects import bp as projects_bp
    from .admin.settings import bp as settings_bp
    from .audit.views import bp as audit_bp
    from .presence.views import bp as presence_bp
    from .surveys.views import bp as surveys_bp
    from .reports.views import bp as reports_bp
    from .admin.team import bp as team_bp
    from .admin.views import bp as admin_bp
    from .api.views import bp as api_bp
    from .auth.cli import cli as auth_cli
    from .auth.views import bp as auth_bp
    from .calendar.views import bp as calendar_bp
    from .demo import cli as demo_cli
    from .organiser.meetings import bp as events_bp
    from .invitations.views import bp as invitations_bp
    from .notifications.views import bp as notifications_bp
    from .registration.invitee_views import bp as registration_bp
    from .registration.organiser_views import bp as declarations_bp
    from .privacy.services import cli as privacy_cli
    from .web.views import bp as web_bp

    for blueprint in (web_bp, auth_bp, admin_bp, projects_bp, settings_bp, team_bp, audit_bp,
                      presence_bp, surveys_bp, auth_cli, demo_cli, events_bp, invitations_bp, registration_bp,
                      declarations_bp, calendar_bp, notifications_bp, privacy_cli, reports_bp):
        app.register_blueprint(blueprint)
    app.register_blueprint(api_bp, url_prefix="/api/v1")
    # Every API request records when its token was last used, a write even on GET: it takes the write lock.
    writes_blueprint(app, "api")
    csrf.exempt(api_bp)

    @login_manager.user_loader
    def _load_user(user_id: str):
        from .auth.models import User
        from .auth.services import session_is_current

        user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
        # A session from before a logout, password change or deactivation (in any browser) no longer counts.
        if user is None or not session_is_current(user, session.get("session_version")):
            return None
        return user

    @app.after_request
    def _security_headers(response):
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
        return response

    app.jinja_env.globals["current_locale"] = lambda: str(get_locale())

    # Organisers' changes to meetings, invitations and declarations are recorded from the ORM's change tracking.
    from .audit.recorder import install as install_audit

    install_audit()

    # Domain code announces changes with signals; the notifications feature listens (one visible list).
    from .notifications.subscriptions import subscribe

    subscribe(app)
    from .clock import cli as clock_cli
    from .clock import serving_with_flask_run, start_clock
    from .notifications.reminder_views import bp as reminders_bp
    from .privacy.views import bp as privacy_bp

    app.register_blueprint(clock_cli)
    app.register_blueprint(reminders_bp)
    app.register_blueprint(privacy_bp)
    app.extensions[APP_FACTORY] = create_app
    if serving_with_flask_run():
        start_clock(app)  # gunicorn starts it per worker in gunicorn.conf.py
    return app
