"""Settings of the portal: one Config, every key commented, secrets only from the environment.

Every setting can be overridden by an environment variable named ACADEMY_<KEY>
(DATABASE_URL is also read without the prefix, as hosting platforms set it). This module is the portal's
only reader of the environment, and importing it writes nothing: create_app() makes the var folder and the
development secret key (init_var_dir).
"""
from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from academy.env import env, flag

if TYPE_CHECKING:
    from flask import Flask

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def var_dir() -> Path:
    """Return the folder for runtime state (SQLite files, the dev secret key, submissions, releases).

    Read when called, not at import, so a process (or a test) that moves ACADEMY_VAR_DIR is followed.
    """
    return Path(env("VAR_DIR", str(PROJECT_ROOT / "var")))


def data_dir() -> Path:
    """Return the lab datasets' folder: ACADEMY_DATA_DIR, else <repo>/var/data."""
    return Path(env("DATA_DIR") or PROJECT_ROOT / "var" / "data")


def _dev_secret_key_file() -> Path:
    return var_dir() / "secret_key"


def init_var_dir(app: Flask) -> None:
    """Create the var folder and, where no ACADEMY_SECRET_KEY is set, this machine's persistent secret key.

    Production sets ACADEMY_SECRET_KEY; on one machine a random key is kept in var/secret_key (0600) so
    sessions survive restarts without a secret ever being committed.
    """
    var_dir().mkdir(parents=True, exist_ok=True)
    if app.config.get("SECRET_KEY"):
        return
    path = _dev_secret_key_file()
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    app.config["SECRET_KEY"] = path.read_text().strip()


class Config:
    # Where the portal keeps its records: SQLite under var/ by default, PostgreSQL in production.
    SQLALCHEMY_DATABASE_URI = env("DATABASE_URL", prefix="") or env(
        "DATABASE_URL", f"sqlite:///{var_dir() / 'academy.sqlite'}"
    )
    # Signs the session cookie and CSRF tokens; unset, create_app() uses this machine's var/secret_key.
    SECRET_KEY = env("SECRET_KEY")
    # Korean is the default language; English is the other one offered.
    BABEL_DEFAULT_LOCALE = "ko"
    LANGUAGES = ("ko", "en")
    BABEL_DEFAULT_TIMEZONE = "Asia/Seoul"
    # Cookies: never readable by scripts, not sent on cross-site POSTs, Secure behind HTTPS.
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = flag("HTTPS", False)
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = flag("HTTPS", False)
    REMEMBER_COOKIE_DURATION = timedelta(days=7)
    # Also the longest a sign-in lives on the server, however the cookie was kept (academy.auth.sessions).
    PERMANENT_SESSION_LIFETIME = timedelta(hours=8)
    # The largest request body accepted (imports and notebook submissions included).
    MAX_CONTENT_LENGTH = int(env("MAX_CONTENT_LENGTH", str(16 * 1024 * 1024)))
    # Rate-limit counters: memory on one process; Redis where several portal workers run.
    RATELIMIT_STORAGE_URI = env("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_HEADERS_ENABLED = True
    # When the shared storage (Redis) fails mid-run, count in each process's memory until it is back (each
    # gunicorn worker then allows the whole limit: looser, but sign-in keeps working through a Redis restart);
    # 0 answers 500 instead. scripts/run.sh refuses to start the portal if Redis is unreachable at start.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = flag("RATELIMIT_IN_MEMORY_FALLBACK", True)
    # Failed logins allowed per client address within the window before 429.
    LOGIN_FAILURE_LIMIT = env("LOGIN_FAILURE_LIMIT", "10 per 5 minutes")
    # Submissions one trainee may make of one assignment within the window before 429 (every attempt counts).
    SUBMIT_RATE_LIMIT = env("SUBMIT_RATE_LIMIT", "6 per 10 minutes")
    # Bytes of submitted files the portal keeps per trainee, over all their submissions; more is refused.
    SUBMISSION_STORAGE_PER_TRAINEE = int(env("SUBMISSION_STORAGE_PER_TRAINEE", str(200 * 1024 * 1024)))
    # Seconds a trainee's grading job may go without a result before their next submission is queued anyway
    # (a dead worker or a lost job must not hold their work back for ever).
    GRADING_JOB_TIMEOUT = int(env("GRADING_JOB_TIMEOUT", str(2 * 3600)))
    # How a submission's grading job is sent: None sends it to the grading broker (academy.submissions.queue);
    # tests put a function (submission, files) -> job id here.
    SUBMISSIONS_ENQUEUE = None
    # Failed logins allowed per account (whatever the address) within the window; then even the
    # right password is refused until the window passes, so rotating addresses buys nothing.
    LOGIN_ACCOUNT_FAILURE_LIMIT = env("LOGIN_ACCOUNT_FAILURE_LIMIT", "10 per 15 minutes")
    # Wrong current passwords allowed per account on the change-password page within the window
    # before 429: a borrowed or stolen session must not become a way to guess the password.
    PASSWORD_CHANGE_FAILURE_LIMIT = env("PASSWORD_CHANGE_FAILURE_LIMIT", "5 per 15 minutes")
    # The bearer token a Prometheus scraper sends to /metrics (Authorization: Bearer ...); unset, /metrics
    # answers 404. The grading worker's metrics port takes the same token (academy.grading.metrics).
    METRICS_TOKEN = env("METRICS_TOKEN")
    # Where gunicorn's workers keep their metric values so that a scrape sums them (prometheus_client reads the
    # same variable, unprefixed, at import); unset, each process answers for itself (one process, tests).
    METRICS_MULTIPROC_DIR = env("PROMETHEUS_MULTIPROC_DIR", prefix="")
    # Reverse proxies in front of the portal that set X-Forwarded-For/-Proto (Werkzeug's ProxyFix
    # trusts that many hops); 0 ignores the headers, which any client could otherwise forge.
    TRUSTED_PROXIES = int(env("TRUSTED_PROXIES", "0"))
    # Days an imported trainee's set-your-password link stays valid.
    INVITE_TTL_DAYS = int(env("INVITE_TTL_DAYS", "7"))
    # Shortest password accepted.
    PASSWORD_MIN_LENGTH = int(env("PASSWORD_MIN_LENGTH", "10"))
    # Rows per page in every list.
    PAGE_SIZE = int(env("PAGE_SIZE", "25"))
    # Where the JupyterHub the portal signs users into answers (browser-facing URL).
    HUB_URL = env("HUB_URL", "http://127.0.0.1:8000")
    # Where the portal itself calls the hub's API, when not at HUB_URL (another host name inside a cluster).
    HUB_INTERNAL_URL = env("HUB_INTERNAL_URL")
    # The portal's service token for the hub's API (read:users, read:servers); unset, server states show as
    # unavailable.
    HUB_API_TOKEN = env("HUB_API_TOKEN")
    # The hub's OAuth client: its id and secret (the secret only from the environment; unset, the hub cannot
    # sign in), and its callback URL (unset, HUB_URL + /hub/oauth_callback).
    HUB_CLIENT_ID = env("HUB_CLIENT_ID", "jupyterhub")
    HUB_CLIENT_SECRET = env("HUB_CLIENT_SECRET")
    HUB_REDIRECT_URI = env("HUB_REDIRECT_URI")
    # Life of the access tokens the portal issues to JupyterHub (and so to trainees' notebook servers).
    OAUTH_TOKEN_LIFETIME = int(env("OAUTH_TOKEN_LIFETIME", "3600"))
    # Seconds an OAuth authorization code may wait to be exchanged for a token.
    OAUTH_CODE_LIFETIME = int(env("OAUTH_CODE_LIFETIME", "300"))
    # The nbgrader course material the portal releases assignments from.
    COURSES_DIR = Path(env("COURSES_DIR", str(PROJECT_ROOT / "courses")))
    # Seconds nbgrader may take to generate an assignment's release before the release is refused (it takes
    # ~5-7 s on a 2-core box; a stuck one must not hold the release lock for ever).
    RELEASE_TIMEOUT_S = float(env("RELEASE_TIMEOUT_S", "300"))
    # The lab datasets (academy.datasets): `flask academy datasets fetch` fills it; notebook kernels read it.
    DATA_DIR = data_dir()
    # Course gradebooks, the same for the worker, the formgraders and the sync ("{course}" = the course's folder);
    # unset, var/gradebooks/<folder>/gradebook.db (academy.integrations.course_config.gradebook_url).
    GRADEBOOK_URL = env("GRADEBOOK_URL")
    # Master secret of the grading services' tokens: the portal checks, and the hub derives, each service's token
    # for one scope from it (academy.integrations.service_tokens). Unset, the grading endpoints accept nothing.
    GRADER_TOKEN = env("GRADER_TOKEN")
    # Accept addresses under the reserved .test domain (the demo accounts use it); turn off in production.
    ALLOW_TEST_EMAILS = flag("ALLOW_TEST_EMAILS", True)
    WTF_CSRF_TIME_LIMIT = None  # tokens live as long as the session, so long forms still submit
    # E-mail (academy/mail): every message is kept in the portal's outbox, which the office reads; with
    # ACADEMY_MAIL_SERVER set it is also sent through that SMTP server (Flask-Mailman).
    MAIL_SERVER = env("MAIL_SERVER")
    MAIL_PORT = int(env("MAIL_PORT", "25"))
    MAIL_USE_TLS = flag("MAIL_USE_TLS", False)  # STARTTLS
    MAIL_USE_SSL = flag("MAIL_USE_SSL", False)
    MAIL_USERNAME = env("MAIL_USERNAME")
    MAIL_PASSWORD = env("MAIL_PASSWORD")
    MAIL_TIMEOUT = int(env("MAIL_TIMEOUT", "10"))
    MAIL_DEFAULT_SENDER = env("MAIL_FROM", "경남AI혁신아카데미 <noreply@academy.localhost>")
    # The portal's public address (scripts/run.sh sets it): links in e-mail are built on it, never on the Host
    # header of the request that caused them (anyone can send any Host).
    PORTAL_URL = env("PORTAL_URL", "http://127.0.0.1:5000")
    # Minutes a forgot-password link stays valid (it also dies when used or when the password changes).
    RESET_TTL_MINUTES = int(env("RESET_TTL_MINUTES", "60"))
    # One reset e-mail per account per this many minutes, however many addresses ask (no mail flood).
    RESET_MAIL_EVERY_MINUTES = int(env("RESET_MAIL_EVERY_MINUTES", "5"))
    # Forgot-password requests allowed per client address within the window before 429.
    RESET_REQUEST_LIMIT = env("RESET_REQUEST_LIMIT", "5 per 15 minutes")
    # The privacy officer named in the privacy policy (PIPA Art. 31): people write to them about their data.
    PRIVACY_OFFICER_NAME = env("PRIVACY_OFFICER_NAME", "경남AI혁신아카데미 개인정보 보호책임자")
    PRIVACY_OFFICER_EMAIL = env("PRIVACY_OFFICER_EMAIL", "privacy@academy.localhost")
    PRIVACY_OFFICER_PHONE = env("PRIVACY_OFFICER_PHONE", "055-000-0000")
    # Certificate verifications (/verify/<id>, public) allowed per client address within the window before 429:
    # enough for a company checking a few certificates, far too few to guess the unguessable ids.
    VERIFY_RATE_LIMIT = env("VERIFY_RATE_LIMIT", "30 per minute")
    # The TTF with Korean glyphs that certificate PDFs embed; unset, the Nanum font of fonts-nanum is found
    # through the font cache (academy/certificates/pdf.py). PDFs are drawn on demand: nothing is stored.
    CERTIFICATE_FONT = env("CERTIFICATE_FONT")


class TestConfig(Config):
    TESTING = True
    SQLALCHEMY_DATABASE_URI = "sqlite://"
    PASSWORD_MIN_LENGTH = 10
    RATELIMIT_STORAGE_URI = "memory://"
    # Metrics off and per process whatever the environment says; the metrics tests set a token.
    METRICS_TOKEN = None
    METRICS_MULTIPROC_DIR = None
    # Tests post forms directly; the CSRF tests turn it back on (conftest csrf_app).
    WTF_CSRF_ENABLED = False
