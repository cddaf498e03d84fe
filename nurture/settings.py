"""Nurture settings: every value can be set through the environment (see docs/configuration.md)."""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

from nurture.env import ConfigError, env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("NURTURE_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("NURTURE_DEBUG", False)
SECRET_KEY = env_str("NURTURE_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG and env_bool("NURTURE_REQUIRE_SECRET", False):
        raise ConfigError("NURTURE_SECRET_KEY (or NURTURE_SECRET_KEY_FILE) must be set")
    # Embedded mode: a per-install key kept under var/, so sessions survive restarts.
    _key_file = VAR_DIR / "secret_key"
    if _key_file.exists():
        SECRET_KEY = _key_file.read_text().strip()
    else:
        from django.core.management.utils import get_random_secret_key

        SECRET_KEY = get_random_secret_key()
        try:
            VAR_DIR.mkdir(parents=True, exist_ok=True)
            _key_file.write_text(SECRET_KEY)
        except OSError:
            pass

ALLOWED_HOSTS = env_list("NURTURE_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("NURTURE_CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_str("NURTURE_SITE_URL", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "nurture.core",
    "nurture.accounts",
    "nurture.availability",
    "nurture.notifications",
    "nurture.messaging",
    "nurture.journeys",
    "nurture.lifecycle",
    "nurture.contacts",
    "nurture.identity",
    "nurture.scoring",
    "nurture.segments",
    "nurture.routing",
    "nurture.capture",
    "nurture.sales",
    "nurture.customers",
    "nurture.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "nurture.core.middleware.RequestSizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "nurture.urls"
WSGI_APPLICATION = "nurture.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "nurture.identity.context_processors.duplicates",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'nurture.sqlite3'}"),
        conn_max_age=env_int("NURTURE_DB_CONN_MAX_AGE", 600),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets readers run beside the one writer; IMMEDIATE takes the write lock at BEGIN,
        # so two writers queue on the busy timeout instead of failing on a lock upgrade.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["CONN_MAX_AGE"] = None
else:
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

CACHES = {
    # A database cache is shared by every web process, which the form rate limit needs.
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "nurture_cache",
        # Above Django's 300: the best-time patterns hold an entry per (source, province) seen in a year.
        "OPTIONS": {"MAX_ENTRIES": 50_000},
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "web:inbox"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "vi"
LANGUAGES = [("vi", _("Vietnamese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "nurture" / "locale"]
TIME_ZONE = "Asia/Ho_Chi_Minh"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
# Static files are served from the apps by WhiteNoise's finders; the root only has to exist.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = VAR_DIR / "media"

# A request body over 1 MB is refused with 413 (see core.middleware).
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
# Imports are uploaded through their own view, which allows larger files.
IMPORT_MAX_BYTES = env_int("NURTURE_IMPORT_MAX_BYTES", 50 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

NURTURE_DEFAULT_PHONE_REGION = env_str("NURTURE_DEFAULT_PHONE_REGION", "VN")
NURTURE_FORM_MIN_SECONDS = env_int("NURTURE_FORM_MIN_SECONDS", 3)
# Sources whose name, gender and birth date win when two contacts merge, most trusted first.
NURTURE_SOURCE_TRUST = env_list("NURTURE_SOURCE_TRUST", ["manual", "import", "website", "api"])
NURTURE_FORM_RATE_LIMIT = env_int("NURTURE_FORM_RATE_LIMIT", 20)  # submissions per IP per minute
# Website tracking (docs/tracking.md): batches per client address per minute, per web process (0: no limit).
NURTURE_TRACKING_RATE_LIMIT = env_int("NURTURE_TRACKING_RATE_LIMIT", 600)
# An idle worker looks for due work this often: a journey triggered by a form sends its first message within it.
NURTURE_WORKER_POLL_SECONDS = env_float("NURTURE_WORKER_POLL_SECONDS", 0.5)
# Enrolments a worker claims and walks in one transaction (nurture.journeys.engine).
NURTURE_JOURNEY_BATCH = env_int("NURTURE_JOURNEY_BATCH", 500)
# Predictive scoring: an open lead with no activity for this many days counts as lost when the model learns.
NURTURE_SCORING_LOST_AFTER_DAYS = env_int("NURTURE_SCORING_LOST_AFTER_DAYS", 90)
# A lost deal sends its contact (with no other open deal) to Lost, then back to nurturing (MQL) when set.
NURTURE_SALES_LOST_TO_NURTURING = env_bool("NURTURE_SALES_LOST_TO_NURTURING", True)
# Trained conversion models are kept here (scoring.prediction), as model-<id>.joblib.
NURTURE_MODELS_DIR = Path(env_str("NURTURE_MODELS_DIR", str(VAR_DIR / "models")))

# Outgoing email (notifications). Without an SMTP host, emails are written to the worker's log instead.
EMAIL_HOST = env_str("NURTURE_SMTP_HOST", "")
EMAIL_PORT = env_int("NURTURE_SMTP_PORT", 587)
EMAIL_HOST_USER = env_str("NURTURE_SMTP_USER", "")
EMAIL_HOST_PASSWORD = env_str("NURTURE_SMTP_PASSWORD", "")
EMAIL_USE_TLS = env_bool("NURTURE_SMTP_TLS", True)
EMAIL_TIMEOUT = env_int("NURTURE_SMTP_TIMEOUT", 10)  # seconds; a stuck server must not hold the worker
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else "django.core.mail.backends.console.EmailBackend"
)
DEFAULT_FROM_EMAIL = env_str("NURTURE_FROM_EMAIL", "Nurture <nurture@localhost>")

# Outbound messages to contacts (nurture.messaging, docs/messaging.md). Email goes through EMAIL_BACKEND above:
# set it to an anymail backend (e.g. "anymail.backends.amazon_ses.EmailBackend") to send through an ESP.
NURTURE_MESSAGING_FROM_EMAIL = env_str("NURTURE_MESSAGING_FROM_EMAIL", DEFAULT_FROM_EMAIL)
# Decree 13/2023: without it, a contact captured with an email and no refusal may be mailed.
NURTURE_EMAIL_NEEDS_CONSENT = env_bool("NURTURE_EMAIL_NEEDS_CONSENT", True)
NURTURE_UNSUBSCRIBE_MAILTO = env_str("NURTURE_UNSUBSCRIBE_MAILTO", "")  # optional second List-Unsubscribe entry
# Defaults until a channel policy is saved in /messaging/policies: (messages, per days) and quiet hours (from, to).
NURTURE_MESSAGE_CAPS = {
    "email": (env_int("NURTURE_EMAIL_CAP", 3), env_int("NURTURE_EMAIL_CAP_DAYS", 7)),
    "sms": (env_int("NURTURE_SMS_CAP", 2), env_int("NURTURE_SMS_CAP_DAYS", 7)),
    "zalo": (env_int("NURTURE_ZALO_CAP", 2), env_int("NURTURE_ZALO_CAP_DAYS", 7)),
}
_QUIET = (env_int("NURTURE_QUIET_FROM_HOUR", 21), env_int("NURTURE_QUIET_TO_HOUR", 8))
NURTURE_QUIET_HOURS: dict[str, tuple[int, int] | None] = {"email": None, "sms": _QUIET, "zalo": _QUIET}
# SMS through eSMS.vn; receipts come back to /hooks/sms/esms?secret=NURTURE_ESMS_WEBHOOK_SECRET.
NURTURE_ESMS_URL = env_str("NURTURE_ESMS_URL", "https://rest.esms.vn")
NURTURE_ESMS_API_KEY = env_str("NURTURE_ESMS_API_KEY", "")
NURTURE_ESMS_SECRET_KEY = env_str("NURTURE_ESMS_SECRET_KEY", "")
NURTURE_ESMS_BRANDNAME = env_str("NURTURE_ESMS_BRANDNAME", "")
NURTURE_ESMS_SMS_TYPE = env_str("NURTURE_ESMS_SMS_TYPE", "2")  # 2: customer care with a brandname
NURTURE_ESMS_WEBHOOK_SECRET = env_str("NURTURE_ESMS_WEBHOOK_SECRET", "")
# Zalo: ZNS template messages and OA customer-service messages; the app's webhook posts to /hooks/zalo/zns.
NURTURE_ZALO_ZNS_URL = env_str("NURTURE_ZALO_ZNS_URL", "https://business.openapi.zalo.me")
NURTURE_ZALO_OA_URL = env_str("NURTURE_ZALO_OA_URL", "https://openapi.zalo.me")
NURTURE_ZALO_ACCESS_TOKEN = env_str("NURTURE_ZALO_ACCESS_TOKEN", "")
NURTURE_ZALO_APP_ID = env_str("NURTURE_ZALO_APP_ID", "")
NURTURE_ZALO_OA_SECRET_KEY = env_str("NURTURE_ZALO_OA_SECRET_KEY", "")
NURTURE_MESSAGING_HTTP_TIMEOUT = env_int("NURTURE_MESSAGING_HTTP_TIMEOUT", 10)  # seconds per provider call
# Channel connections (capture): provider base URLs are settings so tests point them at loopback servers.
NURTURE_FACEBOOK_GRAPH_URL = env_str("NURTURE_FACEBOOK_GRAPH_URL", "https://graph.facebook.com/v21.0")
NURTURE_ZALO_OAUTH_URL = env_str("NURTURE_ZALO_OAUTH_URL", "https://oauth.zaloapp.com")
NURTURE_CAPTURE_FETCH_ATTEMPTS = env_int("NURTURE_CAPTURE_FETCH_ATTEMPTS", 8)  # a Graph fetch, then dead letter
NURTURE_ZALO_REFRESH_AHEAD_MINUTES = env_int("NURTURE_ZALO_REFRESH_AHEAD_MINUTES", 60)
# ESP bounce/complaint webhooks (anymail, under /hooks/email/<esp>/tracking/) need HTTP basic auth "user:password".
ANYMAIL = {"WEBHOOK_SECRET": env_str("NURTURE_ANYMAIL_WEBHOOK_SECRET", "")}

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("NURTURE_LOG_LEVEL", "INFO")},
    "loggers": {"django.request": {"level": "ERROR"}},
}
