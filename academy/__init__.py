"""The academy portal: the system of record for cohorts, courses, grades, demands and placements."""
from __future__ import annotations

import importlib
from pathlib import Path

from flask import Flask

# Each domain's views module defines `bp`; registered in this order.
BLUEPRINTS = (
    "academy.auth.views",
    "academy.home.views",
    "academy.universities.views",
    "academy.admissions.views",
    "academy.courses.views",
    "academy.companies.views",
    "academy.students.views",
    "academy.audit.views",
    "academy.mail.views",
    "academy.oauth.views",
    "academy.gradebook.views",
    "academy.placements.views",
    "academy.reports.views",
    "academy.submissions.views",
    "academy.submissions.pages",
    "academy.privacy.views",
    "academy.notifications.views",
    "academy.certificates.views",
    "academy.skills.views",
    "academy.charts",
)

# Modules whose models must be imported before the metadata is complete.
MODEL_MODULES = (
    "academy.auth.models",
    "academy.audit.models",
    "academy.universities.models",
    "academy.skills.models",
    "academy.admissions.models",
    "academy.courses.models",
    "academy.companies.models",
    "academy.students.models",
    "academy.mail.models",
    "academy.oauth.models",
    "academy.placements.models",
    "academy.submissions.models",
    "academy.privacy.models",
    "academy.notifications.models",
    "academy.certificates.models",
    "academy.scheduled.models",
    "academy.reports.models",
)


def import_models() -> None:
    """Import every model module, so the metadata knows every table."""
    for name in MODEL_MODULES:
        importlib.import_module(name)


def create_app(config: object | None = None) -> Flask:
    """Create the portal application."""
    app = Flask(__name__, instance_relative_config=False)
    from academy.config import Config, init_var_dir

    app.config.from_object(config or Config)
    init_var_dir(app)
    if hops := int(app.config.get("TRUSTED_PROXIES", 0)):
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Only behind the configured proxies is X-Forwarded-For the client's address: otherwise any
        # client could name a new address per request and slip past the per-address sign-in limit.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    # Every package that has its own message catalogue contributes it; Flask-Babel merges them.
    root = Path(__file__).parent
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(
        str(p) for p in sorted(root.glob("**/translations")) if p.is_dir()
    )

    from academy import errors, extensions, i18n, metrics, policy, security, transactions, ui
    from academy.extensions import babel, csrf, db, limiter, login_manager, migrate
    from academy.reports import cache as report_cache

    import_models()
    if app.config.get("ALLOW_TEST_EMAILS"):
        import email_validator

        # The demo data uses the reserved .test domain, which email-validator refuses by default.
        email_validator.SPECIAL_USE_DOMAIN_NAMES[:] = [
            d for d in email_validator.SPECIAL_USE_DOMAIN_NAMES if d != "test"
        ]
    db.init_app(app)
    from academy.courses import versions

    versions.install()  # courses.data_version follows every change a course's cached pages show
    migrate.init_app(app, db, directory=str(root.parent / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    app.config.setdefault("RATELIMIT_ON_BREACH_CALLBACK", metrics.count_limit_hit)  # counts, answers nothing
    limiter.init_app(app)
    babel.init_app(app, locale_selector=i18n.select_locale, timezone_selector=i18n.select_timezone)
    login_manager.init_app(app)
    extensions.mail.init_app(app)
    transactions.init_app(app)  # first: its after-request hook runs last
    report_cache.init_app(app)
    policy.init_app(app)
    security.init_app(app)
    i18n.init_app(app)
    ui.init_app(app)
    errors.init_app(app)  # before the blueprints: their <int:...> ids use its bounded converter
    extensions.init_sqlite_pragmas(app)

    for name in BLUEPRINTS:
        app.register_blueprint(importlib.import_module(name).bp)
    metrics.init_app(app)

    from academy.cli import register_cli

    register_cli(app)
    return app
