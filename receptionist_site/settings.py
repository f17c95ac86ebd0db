"""Settings for every environment, driven by environment variables.

Nothing set means the embedded defaults for one machine: SQLite, an in-memory
channel layer, Celery tasks run in-process, offline speech providers.
DATABASE_URL and REDIS_URL switch on the real engines. See README.md for the
table of variables.
"""

import datetime as dt
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import environ
from celery.schedules import crontab

from receptionist_site.secrets import load_secrets

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

ENVIRONMENT = env.str("ENVIRONMENT", default="development")
if ENVIRONMENT not in {"development", "test", "production"}:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        f"ENVIRONMENT must be development, test or production, not {ENVIRONMENT!r}."
    )
PRODUCTION = ENVIRONMENT == "production"

_secrets = load_secrets(
    environment=ENVIRONMENT,
    env=dict(env.ENVIRON),
    local_file=Path(env.str("LOCAL_SECRETS_FILE", default=str(BASE_DIR / ".local-secrets.json"))),
)
SECRET_KEY = _secrets["SECRET_KEY"]
FIELD_ENCRYPTION_KEYS = [k.strip() for k in _secrets["FIELD_ENCRYPTION_KEYS"].split(",") if k.strip()]
PHONE_INDEX_KEY = _secrets["PHONE_INDEX_KEY"]

DEBUG = env.bool("DEBUG", default=ENVIRONMENT == "development")
ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=[] if PRODUCTION else ["127.0.0.1", "localhost", "testserver"]
)
if PRODUCTION and not ALLOWED_HOSTS:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("Refusing to start in production: ALLOWED_HOSTS is not set.")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    # Django admin, with the staff portal's site (portal/sites.py) as admin.site.
    "portal.apps.PortalAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_prometheus",
    "channels",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "tenants",
    "bookings",
    "calls",
    "voice",
    "api",
    "portal",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "tenants.middleware.StaffSessionLifetimeMiddleware",
    "portal.middleware.TwoFactorMiddleware",
    "tenants.middleware.PracticeTimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "receptionist_site.urls"
WSGI_APPLICATION = "receptionist_site.wsgi.application"
ASGI_APPLICATION = "receptionist_site.asgi.application"

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

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several daphne/celery threads write at once: wait for the lock instead of failing,
    # and take it when a transaction starts, so a booking's check-then-insert cannot race.
    DATABASES["default"].setdefault("OPTIONS", {}).update(timeout=20, transaction_mode="IMMEDIATE")
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # The voice loop reaches the ORM through database_sync_to_async, which closes the
    # connection after every call; a pool makes that a hand-back (0.4 ms here) instead
    # of a new login (4.7 ms), several times a turn. Persistent connections are no
    # answer under ASGI, where each request may run in a thread of its own.
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1, "max_size": env.int("DATABASE_POOL_SIZE", default=20), "timeout": 10,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
# `make test` runs the suite in parallel (pytest-xdist): each worker has a test database of its own, and a Redis
# database of its own too, so that one worker's Celery worker never takes another's tasks (nor its cache or
# channel layer). The servers a test starts inherit the worker's name and land in the same one.
if REDIS_URL and (xdist_worker := env.str("PYTEST_XDIST_WORKER", default="")).startswith("gw"):
    _redis = urlsplit(REDIS_URL)
    REDIS_URL = urlunsplit(_redis._replace(path=f"/{int(_redis.path.strip('/') or 0) + 1 + int(xdist_worker[2:])}"))
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery: without a broker, tasks run in-process so one machine needs nothing else.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = "UTC"
# A worker would otherwise replace the root logger's handlers, and with them the filter that masks PHI.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Tasks carry ids and return nothing worth keeping.
CELERY_TASK_IGNORE_RESULT = True
# What beat starts, and when (UTC, CELERY_TIMEZONE); README.md says what runs when.
CELERY_BEAT_SCHEDULE = {
    "purge-expired-records": {"task": "voice.tasks.purge_expired_records", "schedule": crontab(hour=3, minute=15)},
    # Reminders are made when due, not queued days ahead: Redis redelivers long-delayed tasks.
    "send-due-reminders": {"task": "bookings.tasks.reminders_send_due", "schedule": 300.0},
    # Events added to providers' own calendars block their time within ten minutes.
    "calendar-sync": {"task": "bookings.tasks.calendar_sync_all", "schedule": 600.0},
    # Webhook deliveries retry on their own; this finds one whose task was lost (a worker gone, the broker down).
    "webhook-sweep": {"task": "tenants.tasks.webhook_deliveries_sweep", "schedule": 600.0},
}
# Beat keeps its last-run times out of the checkout.
CELERY_BEAT_SCHEDULE_FILENAME = env.str("CELERY_BEAT_SCHEDULE_FILENAME", default="/tmp/receptionist-celerybeat-schedule")

# Login throttling (django-axes): after LOGIN_FAILURE_LIMIT wrong passwords for one username
# from one address, that pair is locked out for LOGIN_LOCKOUT_MINUTES (each try in the
# lockout restarts the wait). Per pair, so one mistyping colleague cannot lock out the office.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# The address comes from REMOTE_ADDR, which only a trusted proxy can have rewritten (asgi.py);
# axes must not read X-Forwarded-For itself.
AXES_CLIENT_IP_CALLABLE = "tenants.services.client_ip"
AXES_LOCKOUT_TEMPLATE = "axes/lockout.html"
AXES_VERBOSE = False
# Lockouts are in the audit trail; operators lift one with `manage.py axes_reset_username NAME`.
AXES_ENABLE_ADMIN = False

# Staff sessions: a front-desk computer is shared. A session ends STAFF_SESSION_IDLE_MINUTES
# after the last request (the cookie's age, renewed on every request) and STAFF_SESSION_HOURS
# after the login whatever happens (tenants.middleware.StaffSessionLifetimeMiddleware).
STAFF_SESSION_HOURS = env.float("STAFF_SESSION_HOURS", default=8)
SESSION_COOKIE_AGE = int(env.float("STAFF_SESSION_IDLE_MINUTES", default=30) * 60)
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# Two-factor sign-in (portal/two_factor.py): owners must use an authenticator app, everyone else may.
# A wrong code makes the next try wait 1, 2, 4, 8... seconds (django-otp's throttling, per device).
OTP_TOTP_ISSUER = "AI Receptionist"
OTP_TOTP_THROTTLE_FACTOR = 1
# Operators may remove a lost device in the admin, but never read its secret there.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Static files are served by WhiteNoise from the ASGI app itself (daphne serves none). In
# production they are collected first (the Procfile's release step) under hashed, compressed
# names that browsers may cache forever; elsewhere they come straight from the apps' folders.
STATIC_URL = "static/"
# Elsewhere nothing is collected (WhiteNoise finds the files in place), so there is no root to warn about.
_static_root = env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles") if PRODUCTION else "")
STATIC_ROOT = Path(_static_root) if _static_root else None
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage",
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION

# The partner API (api/): keys or staff tokens, scopes, one error shape, a rate per client.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.auth.ApiKeyAuthentication", "api.auth.StaffJWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["api.auth.HasScopes"],
    "DEFAULT_THROTTLE_CLASSES": ["api.auth.ClientThrottle"],
    "DEFAULT_THROTTLE_RATES": {"client": env.str("API_RATE", default="600/min")},
    "EXCEPTION_HANDLER": "api.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "api.schema.ScopedAutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "AI Receptionist partner API",
    "DESCRIPTION": "Book, move and cancel a practice's appointments, find patients, read calls and messages. "
                   "Send `Authorization: Bearer rk_...` (a practice's API key) or a staff access token from "
                   "/api/v1/token/. Errors are `{\"error\": {\"code\", \"message\", \"details\"}}`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from our own static files: no CDN between staff and the docs.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {"CallStatusEnum": "calls.models.Call.Status", "AppointmentStatusEnum":
                            "bookings.models.Appointment.Status", "MessageStatusEnum": "calls.models.Message.Status"},
}

# Telephony and cloud providers. Empty keys select the offline providers.
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
# Another host for Twilio's REST API (a test fake); empty means api.twilio.com.
TWILIO_API_BASE_URL = env.str("TWILIO_API_BASE_URL", default="")
# Texts to patients: through Twilio once it has an account, else recorded (in the admin) without sending.
SMS_BACKEND = env.str(
    "SMS_BACKEND",
    default="bookings.sms.twilio.TwilioBackend" if TWILIO_ACCOUNT_SID else "bookings.sms.console.ConsoleBackend",
)
# The phone loop: silence that ends a caller's turn, and silence before a reprompt.
VOICE_END_OF_TURN_MS = env.int("VOICE_END_OF_TURN_MS", default=500)
# Shorter once the words so far answer the question asked ("yes", a date of birth, an offered time);
# longer while they stop mid-sentence ("on Tuesday, um,").
VOICE_END_OF_ANSWER_MS = env.int("VOICE_END_OF_ANSWER_MS", default=250)
VOICE_MID_SENTENCE_MS = env.int("VOICE_MID_SENTENCE_MS", default=1000)
VOICE_IDLE_SECONDS = env.float("VOICE_IDLE_SECONDS", default=8.0)
# A media-stream socket is accepted before its token can be checked; without a valid `start` by then, it is closed.
VOICE_STREAM_START_SECONDS = env.float("VOICE_STREAM_START_SECONDS", default=5.0)
# Freeze the practice clock for every call (ISO date-time with offset), like `talk --now`: demos and tests only.
FROZEN_NOW = env.str("FROZEN_NOW", default="")
if PRODUCTION and FROZEN_NOW:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("FROZEN_NOW is for demos and tests; unset it in production.")
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000")
# Proxies (addresses or networks) whose X-Forwarded-For names the real client. Nobody else's is
# believed: the audit trail and login throttling record the address that connected.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
# /metrics and /health/detailed reveal the set-up: they answer a bearer OPS_TOKEN, or addresses in
# OPS_ALLOWED_NETWORKS (loopback by default outside production, nobody by default in production).
OPS_TOKEN = env.str("OPS_TOKEN", default="")
OPS_ALLOWED_NETWORKS = env.list(
    "OPS_ALLOWED_NETWORKS", default=[] if PRODUCTION else ["127.0.0.0/8", "::1/128"]
)
DEEPGRAM_API_KEY = env.str("DEEPGRAM_API_KEY", default="")
DEEPGRAM_MODEL = env.str("DEEPGRAM_MODEL", default="nova-3")  # keyterms need Nova-3
DEEPGRAM_URL = env.str("DEEPGRAM_URL", default="")  # another endpoint (a proxy or a test fake), as wss://host
# How long the end of a turn may wait for Deepgram's final words before the fallback recogniser takes over.
DEEPGRAM_FINAL_SECONDS = env.float("DEEPGRAM_FINAL_SECONDS", default=1.5)
ANTHROPIC_API_KEY = env.str("ANTHROPIC_API_KEY", default="")
ANTHROPIC_MODEL = env.str("ANTHROPIC_MODEL", default="claude-haiku-4-5")
# A spoken reply is a few sentences; the limit keeps a runaway answer from holding the caller.
ANTHROPIC_MAX_TOKENS = env.int("ANTHROPIC_MAX_TOKENS", default=400)
ANTHROPIC_BASE_URL = env.str("ANTHROPIC_BASE_URL", default="")
# How long a caller waits for Claude's first word before a filler; twice that and the rules engine takes over.
CLAUDE_FIRST_TOKEN_SECONDS = env.float("CLAUDE_FIRST_TOKEN_SECONDS", default=2.0)
ELEVENLABS_API_KEY = env.str("ELEVENLABS_API_KEY", default="")
ELEVENLABS_VOICE_ID = env.str("ELEVENLABS_VOICE_ID", default="")
ELEVENLABS_MODEL = env.str("ELEVENLABS_MODEL", default="eleven_flash_v2_5")  # their lowest-latency model
ELEVENLABS_BASE_URL = env.str("ELEVENLABS_BASE_URL", default="")
ELEVENLABS_TIMEOUT_SECONDS = env.float("ELEVENLABS_TIMEOUT_SECONDS", default=5.0)
# Speaking rate, 0.7 to 1.2 (ElevenLabs' voice_settings.speed); unset: the voice's own. A practice may set its own.
ELEVENLABS_SPEED = env.float("ELEVENLABS_SPEED", default=None)
# "http" (the SDK's streaming endpoint) or "websocket" (stream-input, one socket a sentence): HTTP's first audio
# comes a round trip or three sooner (`python -m benchmarks.tts_cloud`).
ELEVENLABS_TRANSPORT = env.str("ELEVENLABS_TRANSPORT", default="http")

# Dotted paths, swapped like Django's session engines.
STT_PROVIDER = env.str(
    "STT_PROVIDER",
    default="voice.phone.stt.deepgram.DeepgramSTT" if DEEPGRAM_API_KEY else "voice.phone.stt.pocketsphinx_workers.PocketsphinxWorkerSTT",
)
# Hears the rest of a call once STT_PROVIDER fails; empty for none.
STT_FALLBACK_PROVIDER = env.str("STT_FALLBACK_PROVIDER", default="voice.phone.stt.pocketsphinx_workers.PocketsphinxWorkerSTT")
TTS_PROVIDER = env.str(
    "TTS_PROVIDER",
    default="voice.phone.tts.elevenlabs.ElevenLabsTTS" if ELEVENLABS_API_KEY else "voice.phone.tts.espeak.EspeakTTS",
)
# Speaks for the rest of a call once TTS_PROVIDER fails; empty for none.
TTS_FALLBACK_PROVIDER = env.str("TTS_FALLBACK_PROVIDER", default="voice.phone.tts.espeak.EspeakTTS")
# Is each 20 ms frame speech? Turns are found from its decisions (VOICE_END_OF_TURN_MS).
VAD_PROVIDER = env.str("VAD_PROVIDER", default="voice.phone.vad.pocketsphinx.PocketsphinxVAD")
CONVERSATION_ENGINE = env.str(
    "CONVERSATION_ENGINE",
    default="voice.conversation.engines.claude.ClaudeEngine" if ANTHROPIC_API_KEY else "voice.conversation.engines.rules.RulesEngine",
)
# Takes over a call when the engine above is unavailable (a cloud API down or too slow); empty: none.
CONVERSATION_FALLBACK_ENGINE = env.str("CONVERSATION_FALLBACK_ENGINE", default="voice.conversation.engines.rules.RulesEngine")

# Logging: every record passes through the PHI masker (tenants.logging); JSON in production.
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "filters": {"phi": {"()": "tenants.logging.PHIFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["phi"],
            "stream": "ext://sys.stderr",
            "formatter": "json" if PRODUCTION else "plain",
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # django-axes reports every sign-in at INFO; the audit trail keeps those.
    # Twilio's SDK writes a dozen lines per REST call (headers included) at INFO: a nightly purge would flood the log.
    "loggers": {"axes": {"level": "WARNING"}, "twilio.http_client": {"level": "WARNING"}},
}

if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # Load balancers probe over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^health"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
