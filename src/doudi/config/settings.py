"""Settings, all driven by environment variables (see README, "Configuration").

DATABASE_URL   default: SQLite at var/doudi.sqlite3 (embedded demo); production: postgres://...
DOUDI_SECRET_KEY, DOUDI_DEBUG, DOUDI_ALLOWED_HOSTS, DOUDI_VAR_DIR, DOUDI_LOG_LEVEL
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

PACKAGE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("DOUDI_VAR_DIR", Path.cwd() / "var")).resolve()


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = _env_bool("DOUDI_DEBUG", False)
def _installation_secret() -> str:
    """A per-installation key kept in VAR_DIR/secret_key (created on first use, readable by the owner only)."""
    path = VAR_DIR / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        import secrets

        VAR_DIR.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(50)
        path.write_text(key)
        path.chmod(0o600)
        return key


SECRET_KEY = os.environ.get("DOUDI_SECRET_KEY", "") or _installation_secret()

ALLOWED_HOSTS = [h.strip() for h in os.environ.get("DOUDI_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("DOUDI_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "ninja",  # its vendored Swagger UI assets for /api/docs (no CDN)
    "doudi.core",
    "doudi.registry",
    "doudi.cases",
    "doudi.payments",
    "doudi.policy",
    "doudi.integrity",
    "doudi.verification",
    "doudi.complaints",
    "doudi.portal",
    "doudi.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "doudi.web.middleware.ChineseFirstLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "doudi.config.urls"
WSGI_APPLICATION = "doudi.config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "doudi.web.context.navigation",
            ],
        },
    },
]

if "DATABASE_URL" not in os.environ:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'doudi.sqlite3'}"),
        conn_max_age=int(os.environ.get("DOUDI_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].update(
        {"transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
    )
    DATABASES["default"]["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "core.User"
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise serves from finders; the folder must exist
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 8 * 3600
CSRF_COOKIE_HTTPONLY = False
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if _env_bool("DOUDI_HTTPS", False):
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Uploads: imports are streamed to a temporary file; the size cap is enforced in the import service.
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DOUDI_IMPORT_MAX_BYTES = int(os.environ.get("DOUDI_IMPORT_MAX_BYTES", str(20 * 1024 * 1024)))
DOUDI_IMPORT_MAX_ROWS = int(os.environ.get("DOUDI_IMPORT_MAX_ROWS", "200000"))
# Public forms (complaints): the client address for rate limits; number of reverse proxies in front of the app
# whose X-Forwarded-For entries are trusted (0 = ignore the header). See doudi/core/ratelimit.py.
DOUDI_TRUSTED_PROXY_HOPS = int(os.environ.get("DOUDI_TRUSTED_PROXY_HOPS", "0"))

# Verification runs started from the pages or the API (doudi/verification/jobs.py): DuckDB threads, and its memory
# limit (e.g. "4GB"; empty = sized to the run: 2 GB, about 0.82 GB per million households above 2.5M, at most 60 %
# of the machine; see docs/verification.md §4).
DOUDI_BATCH_THREADS = int(os.environ.get("DOUDI_BATCH_THREADS", "2"))
DOUDI_BATCH_MEMORY_LIMIT = os.environ.get("DOUDI_BATCH_MEMORY_LIMIT", "").strip()

# Login throttling: failures per (username, client) inside the window lock further attempts.
DOUDI_LOGIN_MAX_FAILURES = int(os.environ.get("DOUDI_LOGIN_MAX_FAILURES", "5"))
DOUDI_LOGIN_LOCK_SECONDS = int(os.environ.get("DOUDI_LOGIN_LOCK_SECONDS", "900"))

# PDF notices: a CJK TrueType font (.ttf/.ttc) to embed; empty = the first installed of WenQuanYi / Noto CJK,
# else reportlab's built-in STSong-Light CID font (not embedded). See docs/documents.md.
DOUDI_PDF_FONT = os.environ.get("DOUDI_PDF_FONT", "")

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    # Public portal pages (docs/portal.md, "Cache"): files shared by the worker processes; the keys carry the
    # caseload fingerprint, so a page is never stale.
    "portal": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(VAR_DIR / "cache" / "portal"),
        "TIMEOUT": 600,
        "OPTIONS": {"MAX_ENTRIES": 20_000, "CULL_FREQUENCY": 4},
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"no_personal_data": {"()": "doudi.core.logging.PersonalDataFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["no_personal_data"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("DOUDI_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
