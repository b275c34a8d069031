"""Settings for every environment, driven by environment variables.

With nothing set the site runs on the embedded default: a SQLite file, Celery in
eager mode, DEBUG on and development secrets kept in ``var/``. ``APP_ENV=production``
turns DEBUG off and refuses to start without real secrets (see ``config/checks.py``).
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from pathlib import Path

from csp.constants import NONE, SELF
from environs import Env

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = Env()
env.read_env(BASE_DIR / ".env", recurse=False)

APP_ENV = env.str("APP_ENV", default="development")
PRODUCTION = APP_ENV == "production"
TESTING = env.bool("TESTING", default=False)


def _dev_secret(name: str, nbytes: int = 32) -> str:
    """A random development secret, created once and kept in ``var/``."""
    path = VAR_DIR / f"dev-{name}"
    if not path.exists():
        VAR_DIR.mkdir(exist_ok=True)
        path.write_text(secrets.token_urlsafe(nbytes))
    return path.read_text().strip()


def _dev_or_required(name: str, env_name: str) -> str:
    if PRODUCTION:
        return env.str(env_name, default="")
    return env.str(env_name, default="") or _dev_secret(name)


DEBUG = env.bool("DEBUG", default=not PRODUCTION)
SECRET_KEY = _dev_or_required("secret-key", "SECRET_KEY")
ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=[] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]"]
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Seconds a client is told to wait (Retry-After) while the database is unreachable.
OUTAGE_RETRY_AFTER = env.int("OUTAGE_RETRY_AFTER", default=30)
# After an erasure, how long the final suppressed rows keep the clear identifier so
# sending systems that sync daily or weekly still receive it.
ERASED_IDENTIFIER_GRACE_DAYS = env.int("ERASED_IDENTIFIER_GRACE_DAYS", default=30)
# How long a worker trusts an API key it looked up: a revoked key stops working in
# every process within this many seconds.
API_KEY_CACHE_SECONDS = env.float("API_KEY_CACHE_SECONDS", default=5.0)
# Country calling codes where a refusal of marketing texts also refuses marketing
# calls and the other way round (US TCPA revocation rule, 2025): "1" covers the
# United States and Canada. Empty: texts and calls are refused separately.
CALLS_AND_TEXTS_LINKED_CODES = frozenset(
    int(code.lstrip("+"))
    for code in env.list("CALLS_AND_TEXTS_LINKED_CODES", default=["1"])
)
# A grant entered by staff (restore, import, call centre, branch) is refused for a
# key the customer withdrew themselves (portal, SMS reply, one-click, API) within
# this many days.
STAFF_GRANT_REFUSED_AFTER_WITHDRAWAL_DAYS = env.int(
    "STAFF_GRANT_REFUSED_AFTER_WITHDRAWAL_DAYS", default=30
)
# An address nobody confirmed is removed after this many days.
UNVERIFIED_CONTACT_DAYS = env.int("UNVERIFIED_CONTACT_DAYS", default=7)
# No nagging: after a customer refused a consent, nobody may ask them for it again
# (API consent request, portal prompt) for this many days.
CONSENT_REQUEST_QUIET_DAYS = env.int("CONSENT_REQUEST_QUIET_DAYS", default=180)
# The controller named on consent receipts (ISO/IEC TS 27560, Kantara).
CONSENT_CONTROLLER_NAME = env.str(
    "CONSENT_CONTROLLER_NAME", default="Consent and preference centre"
)
CONSENT_CONTROLLER_CONTACT = env.str("CONSENT_CONTROLLER_CONTACT", default="")
# Absolute base used in links that leave the site (one-click unsubscribe).
SITE_BASE_URL = env.str("SITE_BASE_URL", default="http://127.0.0.1:8000")
# Reverse proxies in front of the site whose X-Forwarded-For the portal's per-IP
# sign-in throttle trusts (0: use the socket address).
PORTAL_TRUSTED_PROXIES = env.int("PORTAL_TRUSTED_PROXIES", default=0)

# Field encryption: "key_id:base64url-32-bytes" entries, newest first. The first key
# encrypts; every listed key decrypts, so a key can be rotated out without downtime.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])
if not FIELD_ENCRYPTION_KEYS and not PRODUCTION:
    import base64
    import hashlib

    _seed = _dev_secret("field-key").encode()
    FIELD_ENCRYPTION_KEYS = [
        "dev1:" + base64.urlsafe_b64encode(hashlib.sha256(_seed).digest()).decode()
    ]
# Blind index key (HMAC-SHA256) for lookups of encrypted identifiers.
BLIND_INDEX_KEY = _dev_or_required("blind-index-key", "BLIND_INDEX_KEY")
# Ed25519 key that signs ledger checkpoints: "key_id:base64url-32-byte-seed".
LEDGER_SIGNING_KEY = env.str("LEDGER_SIGNING_KEY", default="")
if not LEDGER_SIGNING_KEY and not PRODUCTION:
    import base64
    import hashlib

    _seed = hashlib.sha256(_dev_secret("ledger-signing-key").encode()).digest()
    LEDGER_SIGNING_KEY = "dev1:" + base64.urlsafe_b64encode(_seed).decode()

if PRODUCTION and not (
    SECRET_KEY and FIELD_ENCRYPTION_KEYS and BLIND_INDEX_KEY and LEDGER_SIGNING_KEY
):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        "APP_ENV=production needs SECRET_KEY, FIELD_ENCRYPTION_KEYS, "
        "BLIND_INDEX_KEY and LEDGER_SIGNING_KEY."
    )

INSTALLED_APPS = [
    # django.contrib.admin, with the two-factor back-office site as admin.site.
    "backoffice.apps.BackofficeAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "csp",
    "config.apps.ProjectConfig",
    "django_prometheus",
    "django_structlog",
    "consent",
    "backoffice",
    "preferences",
    "complaints",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django_structlog.middlewares.RequestMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",
    "consent.api.middleware.ApiEdgeMiddleware",
    "config.observability.DatabaseOutageMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.dj_db_url(
        "DATABASE_URL",
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        # Persistent connections (checked before reuse): a new PostgreSQL
        # connection per request cost more than a whole STOP's statements.
        conn_max_age=env.int("DB_CONN_MAX_AGE", default=60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers go on while one writer commits; the timeout waits for it.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
# A streaming replica for the sync API reads and the statistics (consent/replica.py).
# Reads go to the primary whenever the replica is more than REPLICA_MAX_LAG_SECONDS
# behind; its lag is measured at most every REPLICA_LAG_CACHE_SECONDS per process. A
# check also waits up to REPLICA_CATCHUP_WAIT_MS for the replica to hold the feed row
# the primary had newest when the check arrived, else reads the primary.
if env.str("DATABASE_REPLICA_URL", default=""):
    DATABASES["replica"] = env.dj_db_url(
        "DATABASE_REPLICA_URL", conn_max_age=env.int("DB_CONN_MAX_AGE", default=0)
    )
    # Tests read the primary's test database through the replica's server.
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["consent.replica.ReplicaRouter"]
# The write path's own statements as server-side prepared statements (PostgreSQL;
# consent.prepared). Off for a pooler in transaction mode that cannot keep them.
DB_PREPARED_STATEMENTS = env.bool("DB_PREPARED_STATEMENTS", default=True)
REPLICA_MAX_LAG_SECONDS = env.float("REPLICA_MAX_LAG_SECONDS", default=1.0)
REPLICA_LAG_CACHE_SECONDS = env.float("REPLICA_LAG_CACHE_SECONDS", default=0.25)
REPLICA_CATCHUP_WAIT_MS = env.int("REPLICA_CATCHUP_WAIT_MS", default=50)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env.dj_cache_url("CACHE_URL", default="locmem://")}

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation."
        "UserAttributeSimilarityValidator"
    },
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="zh-hans")
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").exists() else []
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Sessions: short idle expiry for a site that changes consent and shows personal data.
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=30 * 60)
SESSION_SAVE_EVERY_REQUEST = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True

# Security headers. Production serves HTTPS only, behind a proxy that sets
# X-Forwarded-Proto.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if PRODUCTION:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # Probes and the metrics scraper talk plain HTTP to the worker itself.
    SECURE_REDIRECT_EXEMPT = [r"^health/", r"^metrics$"]
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    },
}

# Brute-force protection on the portal and admin sign-in.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=15)
# A user name guessed from one address, and any user names tried from one address:
# either reaching the limit locks out (per IP across user names too).
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_VERBOSE = False

OTP_TOTP_ISSUER = "Consent Centre"

# Back office: access log retention and anomaly rules. A rule fires when a staff
# member *reaches* the threshold within the window (minutes).
ACCESS_LOG_RETENTION_DAYS = env.int("ACCESS_LOG_RETENTION_DAYS", default=730)
ONE_TIME_CODE_RETENTION_HOURS = env.int("ONE_TIME_CODE_RETENTION_HOURS", default=24)
ANOMALY_CHANGE_THRESHOLD = env.int("ANOMALY_CHANGE_THRESHOLD", default=20)
ANOMALY_CHANGE_WINDOW_MINUTES = env.int("ANOMALY_CHANGE_WINDOW_MINUTES", default=10)
ANOMALY_SEARCH_THRESHOLD = env.int("ANOMALY_SEARCH_THRESHOLD", default=30)
ANOMALY_SEARCH_WINDOW_MINUTES = env.int("ANOMALY_SEARCH_WINDOW_MINUTES", default=10)
# Exports outside these hours (local time, TIME_ZONE) and weekdays (0 = Monday) alert.
WORKING_HOURS = tuple(env.list("WORKING_HOURS", default=[8, 19], subcast=int))
WORKING_DAYS = tuple(env.list("WORKING_DAYS", default=[0, 1, 2, 3, 4], subcast=int))

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["consent.api.parsers.BoundedJSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "consent.api.errors.api_exception_handler",
}
# Largest API request body (a check of 1,000 recipients is about 40 KB) and deepest
# JSON nesting the API parses.
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=1024 * 1024)
API_MAX_JSON_DEPTH = 20
SPECTACULAR_SETTINGS = {
    "TITLE": "Consent centre suppression sync API",
    "VERSION": "1.0.0",
    "DESCRIPTION": """## Authenticate first

Every call sends the sending system's API key:
`Authorization: Bearer ck_…`. Keys come from the bank's back office: a staff
member files an approval request (*Approval requests → Add*, kind *API client
channels* for a new client, *API key rotation* for a new key) and a second
staff member approves it and receives the key once, to hand to your operator.
Only the key's SHA-256 is stored; a lost key cannot be shown again, only
replaced. After a rotation the old key stays valid for 7 days.

- Missing or bad key: **401** with `WWW-Authenticate: Bearer`.
- A channel outside the client's scope: **403** naming the channel, and whether
  reading or writing was refused.
- Over the client's requests per minute: **429** with `Retry-After`. Every
  answer carries `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`
  (seconds until the window resets).
- Errors are in English unless `Accept-Language` asks for `zh-Hans`; every error
  has the shape `{"error": {"code", "message", "fields"}}`.
- During maintenance or a database outage: **503** in that shape with
  `Retry-After`. Bodies over 1 MiB or JSON nested deeper than 20 levels: **400**.

## Then
Pull a snapshot once, follow `changes` from its `X-Feed-Seq`, and `check`
recipients before each send; push what you see (replies, bounces) to `events`.
""",
    "SERVE_INCLUDE_SCHEMA": False,
    "ENUM_NAME_OVERRIDES": {
        "UnsubscribeScopeEnum": "consent.services.unsubscribe.UnsubscribeScope",
    },
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = CELERY_BROKER_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TIMEZONE = "UTC"
# Two queues: "fast" for what a person is waiting for (one-time codes, complaint
# acknowledgements), "housekeeping" for beat's purges and escalations; everything
# else stays on the default "celery" queue. Run a worker per queue so a long purge
# never delays a sign-in code (README, "Deployment").
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_ROUTES = {
    "consent.tasks.send_message_task": {"queue": "fast"},
    "complaints.tasks.complaint_acknowledge_task": {"queue": "fast"},
    "complaints.tasks.complaint_message_sent_task": {"queue": "fast"},
    "consent.tasks.send_record_purge_task": {"queue": "housekeeping"},
    "consent.tasks.ledger_checkpoint_task": {"queue": "housekeeping"},
    "consent.tasks.webhook_dispatch_task": {"queue": "housekeeping"},
    "consent.tasks.unverified_contact_points_expire_task": {"queue": "housekeeping"},
    "consent.tasks.erased_identifiers_clear_task": {"queue": "housekeeping"},
    "preferences.tasks.care_pause_expire_task": {"queue": "housekeeping"},
    "backoffice.tasks.*": {"queue": "housekeeping"},
    "complaints.tasks.complaint_escalate_task": {"queue": "housekeeping"},
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_QUEUE_NAMES = ("fast", "celery", "housekeeping")

# Prometheus at /metrics: only these addresses or networks may read it.
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1", "::1"])

# Webhooks to sending systems (consent/webhooks.py): the receiver's time limit per
# message, and the longest wait between retries (the backoff doubles up to it).
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
WEBHOOK_RETRY_BASE_SECONDS = env.float("WEBHOOK_RETRY_BASE_SECONDS", default=5.0)
WEBHOOK_RETRY_MAX_SECONDS = env.float("WEBHOOK_RETRY_MAX_SECONDS", default=3600.0)

# Where one-time codes and customer messages go: "console" prints them, "file" writes
# them to MESSAGE_FILE_DIR, "locmem" keeps them in memory (tests); "production" sends
# phones to the HTTP SMS gateway and e-mail through Django's e-mail backend
# (consent/messaging.py).
MESSAGE_SENDER = env.str("MESSAGE_SENDER", default="console")
MESSAGE_FILE_DIR = env.path("MESSAGE_FILE_DIR", default=VAR_DIR / "messages")
SMS_GATEWAY_URL = env.str("SMS_GATEWAY_URL", default="")
SMS_GATEWAY_TOKEN = env.str("SMS_GATEWAY_TOKEN", default="")
SMS_GATEWAY_SENDER_ID = env.str("SMS_GATEWAY_SENDER_ID", default="")
SMS_GATEWAY_TIMEOUT = env.float("SMS_GATEWAY_TIMEOUT", default=5.0)
SMS_GATEWAY_RETRIES = env.int("SMS_GATEWAY_RETRIES", default=3)
SMS_GATEWAY_BACKOFF = env.float("SMS_GATEWAY_BACKOFF", default=0.5)

# Complaint time limits: "cn" (default), "uk" or "us" (complaints/deadlines.py).
# Holidays and make-up working days live in the calendar tables (admin: Calendars).
COMPLAINT_DEADLINE_POLICY = env.str("COMPLAINT_DEADLINE_POLICY", default="cn")
# A calendar must know the days this far ahead, or deadlines go conservative.
COMPLAINT_CALENDAR_HORIZON_DAYS = env.int(
    "COMPLAINT_CALENDAR_HORIZON_DAYS", default=120
)
# "Due soon" in queues, colours and alerts; and the T-n days alert the rules require.
COMPLAINT_DUE_SOON_HOURS = env.int("COMPLAINT_DUE_SOON_HOURS", default=48)
COMPLAINT_ALERT_DAYS_BEFORE = env.int("COMPLAINT_ALERT_DAYS_BEFORE", default=3)
# Complaint creation limits (per hour): per customer and per IP address. A report
# link makes one complaint, whatever the limit.
COMPLAINT_RATE_PER_CUSTOMER = env.int("COMPLAINT_RATE_PER_CUSTOMER", default=5)
COMPLAINT_RATE_PER_IP = env.int("COMPLAINT_RATE_PER_IP", default=10)
# Rights requests (access, correction, deletion): answer within 30 days; extensions
# may bring the total to at most 90 days.
RIGHTS_REQUEST_DAYS = env.int("RIGHTS_REQUEST_DAYS", default=30)
RIGHTS_REQUEST_MAX_DAYS = env.int("RIGHTS_REQUEST_MAX_DAYS", default=90)
# Customers complaining about one matter that make it a major complaint.
COMPLAINT_MAJOR_THRESHOLD = env.int("COMPLAINT_MAJOR_THRESHOLD", default=20)
# The trained category model (manage.py train_classifier writes it). The default is
# the model shipped with the code, trained on the shipped labelled set; point this at
# a writable file to keep models retrained with handlers' corrections.
COMPLAINT_CLASSIFIER_MODEL = env.path(
    "COMPLAINT_CLASSIFIER_MODEL",
    default=BASE_DIR / "complaints" / "data" / "category_model.npz",
)

EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend"
)
# EMAIL_URL (e.g. smtp+tls://user:password@smtp.example.com:587) sets the SMTP
# backend and its host, port, credentials and TLS in one variable.
if env.str("EMAIL_URL", default=""):
    globals().update(env.dj_email_url("EMAIL_URL"))
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="consent-centre@localhost")

# JSON lines on stderr (LOG_FORMAT=console for a readable terminal): one per request
# and per Celery task, with the request id, never personal data (config/logs.py).
from config.logs import logging_config  # noqa: E402

LOGGING = logging_config(
    level=env.str("LOG_LEVEL", default="INFO"),
    fmt=env.str("LOG_FORMAT", default="json"),
)
DJANGO_STRUCTLOG_CELERY_ENABLED = True
# The start of a request or task is not logged: its end carries everything.
DJANGO_STRUCTLOG_STATUS_START_LOG_LEVEL = logging.DEBUG
DJANGO_STRUCTLOG_CELERY_TASK_START_LOG_LEVEL = logging.DEBUG
DJANGO_STRUCTLOG_USER_ID_FIELD = None

# Optional error reporting. No personal data leaves: no request bodies, cookies,
# user details or local variables, and anything shaped like an address is masked.
SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN:
    from config.sentry import sentry_init

    sentry_init(dsn=SENTRY_DSN, environment=APP_ENV)
