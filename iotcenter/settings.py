"""IoT Center settings: every value comes from the environment or an optional ``.env`` file.

See ``.env.example`` for the full list with safe placeholders.
"""

from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.core.management.utils import get_random_secret_key

from iotcenter.dbfiles import default_sqlite_path, make_private_sqlite

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "Set SECRET_KEY (for example in .env); it is required when DEBUG is off."
        )
    # Development only: a per-process key (sessions end when the server restarts).
    SECRET_KEY = get_random_secret_key()

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "devices.apps.IoTCenterAdminConfig",  # django.contrib.admin with the device pages
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "csp",  # Content-Security-Policy header (settings in the deployment block below)
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "devices",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "devices.middleware.InfluxErrorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "iotcenter.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "iotcenter.wsgi.application"

# SQLite by default, in a private directory (iotcenter/dbfiles.py); PostgreSQL with
# DATABASE_URL=postgres://user:password@host:5432/name (psycopg 3, see requirements.txt).
if env.str("DATABASE_URL", default=""):
    DATABASES = {"default": env.db("DATABASE_URL")}
else:
    DATABASES = {
        "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": default_sqlite_path(BASE_DIR)}
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    make_private_sqlite(DATABASES["default"]["NAME"])
    # Several processes share the file (gunicorn workers, simulate, the alert evaluators): a
    # transaction takes the write lock when it starts (no deadlocked lock upgrade, which SQLite
    # answers "database is locked" at once) and waits up to 20 s for another one to finish.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "devices:list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Development serves files straight from static/ (no collectstatic needed).
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- Deployment: HTTPS behind a TLS proxy, Content-Security-Policy --------------------------
# All off by default (plain http on 127.0.0.1); the README's deploy recipe turns them on.
# "HTTP_X_FORWARDED_PROTO,https": the header the TLS proxy sets, and its value on https
# requests. Set it only when a proxy that overwrites that header is in front of gunicorn.
_proxy_ssl_header = env.list("SECURE_PROXY_SSL_HEADER", default=[])
if _proxy_ssl_header and len(_proxy_ssl_header) != 2:
    raise ImproperlyConfigured(
        "SECURE_PROXY_SSL_HEADER is a header and a value, e.g. HTTP_X_FORWARDED_PROTO,https."
    )
SECURE_PROXY_SSL_HEADER = tuple(_proxy_ssl_header) or None
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
# A load balancer's plain-http health probe gets its answer, not a redirect.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)

# django-csp 4: every page, the admin's included, loads scripts, styles, images and fonts from
# this site only: no inline script or style, no eval, no CDN. (The token pages' "Download as
# JSON" is a data: link the browser downloads; downloads are not subject to CSP.)
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# --- InfluxDB -------------------------------------------------------------------------------
# Validated by the system checks in devices/checks.py (they say what to set when one is wrong).
INFLUX_URL = env.str("INFLUX_URL", default="")
INFLUX_TOKEN = env.str("INFLUX_TOKEN", default="")
INFLUX_ORG = env.str("INFLUX_ORG", default="")
INFLUX_BUCKET = env.str("INFLUX_BUCKET", default="iot_center")
INFLUX_BUCKET_AUTH = env.str("INFLUX_BUCKET_AUTH", default="iot_center_devices")
# Device tokens write the telemetry bucket only; "true" lets them read it too.
INFLUX_DEVICE_TOKEN_READ = env.bool("INFLUX_DEVICE_TOKEN_READ", default=False)
# Seconds; every request to InfluxDB (connect + read) must finish within it.
INFLUX_TIMEOUT = env.str("INFLUX_TIMEOUT", default="5")
# Rows at most in one CSV download of a device's telemetry (a longer file is cut, and says so).
EXPORT_MAX_ROWS = env.int("EXPORT_MAX_ROWS", default=100_000)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # urllib3 logs request URLs only, never headers, but keep it quiet anyway.
        "urllib3": {"level": "WARNING"},
        "influxdb_client": {"level": "WARNING"},
    },
}

# --- Login throttling and mail (django-axes; password reset only when mail is set up) ---------
# Failed logins are counted per username AND client address in the database (shared by every
# worker and host), on the site's login and /admin/login/ alike. After AXES_FAILURE_LIMIT
# failures that pair is locked out for AXES_COOLOFF_MINUTES, even with the right password.
INSTALLED_APPS += ["axes", "accounts", "devices.stash"]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out pair before checking
    "django.contrib.auth.backends.ModelBackend",
]
# API errors as JSON (outermost but one, so it sees every error response); unclaimed device
# tokens swept from the database on any request; axes last, as its documentation asks.
MIDDLEWARE.insert(1, "devices.middleware.JsonErrorsMiddleware")
MIDDLEWARE += [
    "devices.middleware.TokenStashSweepMiddleware",
    "axes.middleware.AxesMiddleware",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_MINUTES = env.int("AXES_COOLOFF_MINUTES", default=15)
AXES_COOLOFF_TIME = AXES_COOLOFF_MINUTES / 60  # axes reads a number as hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.views.lockout"
# The client address: REMOTE_ADDR, unless TRUSTED_PROXY_COUNT proxies (that each append to
# X-Forwarded-For) stand in front of the app; then the address the outermost of them saw.
AXES_CLIENT_IP_CALLABLE = "accounts.client_ip.client_ip"
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# Password reset requests per client address and per email address in an hour.
PASSWORD_RESET_LIMIT = env.int("PASSWORD_RESET_LIMIT", default=5)

# Mail: EMAIL_URL such as smtp+tls://user:password@mail.example.com:587 (django-environ's
# forms). Without it no mail can be sent, so the password reset pages are not offered.
if env.str("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))
    MAIL_CONFIGURED = True
else:
    MAIL_CONFIGURED = False
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="iot-center@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
TEMPLATES[0]["OPTIONS"]["context_processors"].append("accounts.context_processors.mail")

# --- JSON API (devices.api: django-ninja, API keys, device provisioning URLs) ---------------
INSTALLED_APPS += ["ninja", "devices.api"]
# /api/k/<key>/... becomes /api/... with that key (iot-api-ui's API_URL), before anything
# routes the request; right after JsonErrorsMiddleware so its errors are JSON too.
MIDDLEWARE.insert(2, "devices.api.auth.PathKeyMiddleware")
# How long a device's provisioning URL works (hours); a token rotation replaces it sooner.
PROVISIONING_TTL_HOURS = env.int("PROVISIONING_TTL_HOURS", default=24 * 7)

# --- Alerts (alerts: rules, evaluator `manage.py alerts`, notifications) --------------------
INSTALLED_APPS += ["alerts"]
# Telemetry is written about once a minute: a window counts as covered when its first point is
# at most this late (seconds).
ALERTS_SAMPLE_INTERVAL_S = env.int("ALERTS_SAMPLE_INTERVAL_S", default=60)
ALERTS_INTERVAL_S = env.int("ALERTS_INTERVAL_S", default=60)  # `alerts --loop` default
ALERTS_WEBHOOK_TIMEOUT_S = env.float("ALERTS_WEBHOOK_TIMEOUT_S", default=5.0)
ALERTS_WEBHOOK_TRIES = env.int("ALERTS_WEBHOOK_TRIES", default=3)
ALERTS_WEBHOOK_BACKOFF_S = env.float("ALERTS_WEBHOOK_BACKOFF_S", default=1.0)  # doubles each try
# A notification that failed is tried again on later passes: at most this many passes, waiting
# ALERTS_RETRY_BACKOFF_S after the first failure (doubling); one stuck in "sending" (its evaluator
# died) is taken over after ALERTS_SEND_LEASE_S.
ALERTS_NOTIFY_PASSES = env.int("ALERTS_NOTIFY_PASSES", default=5)
ALERTS_RETRY_BACKOFF_S = env.float("ALERTS_RETRY_BACKOFF_S", default=60.0)
ALERTS_SEND_LEASE_S = env.float("ALERTS_SEND_LEASE_S", default=600.0)
if DEBUG and not MAIL_CONFIGURED:
    # Development: alert e-mails are printed by the evaluator instead of sent.
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"

# --- The hourly rollup long dashboard ranges read (`manage.py rollup`, devices/influx/rollup.py)
# Completed hours every pass recomputes: points arriving later than this are only rolled up by
# `manage.py rollup --since`.
ROLLUP_LOOKBACK_HOURS = env.int("ROLLUP_LOOKBACK_HOURS", default=3)
ROLLUP_DAYS = env.int("ROLLUP_DAYS", default=31)  # how far back the rollup is kept up
ROLLUP_MAX_HOURS = env.int("ROLLUP_MAX_HOURS", default=24 * 7)  # hours computed per pass at most
