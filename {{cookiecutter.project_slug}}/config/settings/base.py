"""Settings shared by every environment.

dev.py, test.py and production.py import this module and change what differs.
https://docs.djangoproject.com/en/5.2/ref/settings/
"""

from realtime_api.defaults import DEFAULTS as REALTIME_DEFAULTS

from .environment import (
    BASE_DIR,
    channel_layers_from_env,
    database_from_env,
    env,
    redis_prefix,
)

# --- Core -----------------------------------------------------------------------------
# SECRET_KEY, DEBUG and ALLOWED_HOSTS are set per environment.

DEBUG = False

ROOT_URLCONF = "config.urls"

# Daphne first: its `runserver` replaces Django's, serving HTTP and WebSockets.
# https://channels.readthedocs.io/en/stable/installation.html
INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    # API tokens: `Authorization: Token <key>` over HTTP and on socket handshakes.
    "rest_framework.authtoken",
    "django_filters",
    # The OpenAPI schema (/api/schema/) and the AsyncAPI payloads read the views.
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "realtime_api",
{%- if cookiecutter.include_sample_app == "y" %}
    "discussion",
{%- endif %}
]

MIDDLEWARE = [
    # /healthz and /readyz, answered before the host check and HTTPS redirect:
    # load balancers probe each process by its address over plain HTTP.
    "realtime_api.ops.health.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files from STATIC_ROOT, with or without a proxy in front.
    # https://whitenoise.readthedocs.io/en/stable/django.html
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

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
            ],
        },
    },
]

# --- ASGI: HTTP and WebSockets --------------------------------------------------------
# https://channels.readthedocs.io/en/stable/deploying.html

ASGI_APPLICATION = "config.asgi.application"

# In-memory without REDIS_URL; see channel_layers_from_env() in environment.py.
CHANNEL_LAYERS = channel_layers_from_env(env)
# `check --deploy` refuses the in-memory layer (realtime_api.E004) unless the
# deployment runs exactly one server process and says so here.
REALTIME_API_SINGLE_PROCESS = env.bool(
    "REALTIME_API_SINGLE_PROCESS",
    default=REALTIME_DEFAULTS["REALTIME_API_SINGLE_PROCESS"],
)

# --- Database -------------------------------------------------------------------------
# SQLite in the project folder by default; PostgreSQL (psycopg 3) when
# DATABASE_URL is postgres://USER:PASSWORD@HOST:PORT/NAME.

DATABASES = {"default": database_from_env(env)}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Authentication -------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/topics/auth/passwords/#password-validation

AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation."
        "UserAttributeSimilarityValidator"
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "rest_framework:login"

# --- Internationalization -------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------
# `manage.py collectstatic` copies them to STATIC_ROOT for the web server.
# https://docs.djangoproject.com/en/5.2/howto/static-files/deployment/

STATIC_URL = "static/"
STATIC_ROOT = env.str("DJANGO_STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))

# --- Django REST framework ------------------------------------------------------------
# https://www.django-rest-framework.org/api-guide/settings/

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        # DRF's BasicAuthentication, with wrong passwords per address bounded
        # as on the socket (REALTIME_API_PASSWORD_FAILURES_PER_ADDRESS).
        "realtime_api.auth.basic.CountedBasicAuthentication",
        # Scripts and apps: `Authorization: Token <key>`; a Bearer scheme
        # (e.g. simplejwt's JWTAuthentication) is one more entry here.
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticatedOrReadOnly",
    ],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        # DRF's SearchFilter with at most 20 terms (a 400 past them).
        "realtime_api.streams.search.BoundedSearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    # Pagination is chosen per view (`pagination_class`), not globally.
    "DEFAULT_PAGINATION_CLASS": None,
    # drf-spectacular reads the views: OpenAPI, and the socket's AsyncAPI.
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# The OpenAPI 3 schema of the HTTP API at /api/schema/, its docs at /api/docs/.
# The socket's protocol is realtime_api/PROTOCOL.md.
# https://drf-spectacular.readthedocs.io/en/latest/settings.html
{#- A double quote as an escape that ruff format leaves alone. #}
{%- set title = cookiecutter.project_name|replace('\\', '\\\\')|replace('"', '\\u0022') %}
SPECTACULAR_SETTINGS = {
    "TITLE": "{{ title }}",{% if title|length > 72 %}  # noqa: E501{% endif %}
    "DESCRIPTION": (
        "The HTTP API. Each view also answers over the WebSocket at /ws/: "
        "see realtime_api/PROTOCOL.md."
    ),
    "VERSION": "{{ cookiecutter.version }}",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from drf-spectacular-sidecar's static files, not from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Every operation's error responses (400, 401, 403, 404, 429) in DRF's
    # shapes, after drf-spectacular's default hook (enums as components).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "realtime_api.schema.openapi_errors.document_error_responses",
    ],
}

# --- Realtime API (realtime_api/) -----------------------------------------------------
# The wire protocol is documented in realtime_api/PROTOCOL.md.
# Each default is written once, in realtime_api/defaults.py (REALTIME_DEFAULTS).

# The streams the socket serves and broadcasts: config/realtime.py.
REALTIME_API_REGISTRY = REALTIME_DEFAULTS["REALTIME_API_REGISTRY"]
# URL prefix of the WebSocket endpoint: one multiplexed socket at /ws/, and
# sockets bound to one stream at /ws/<stream>/.
REALTIME_API_PATH = REALTIME_DEFAULTS["REALTIME_API_PATH"]
# Larger text frames are answered with status 413 and not parsed.
REALTIME_API_MAX_FRAME_BYTES = env.int(
    "REALTIME_API_MAX_FRAME_BYTES",
    default=REALTIME_DEFAULTS["REALTIME_API_MAX_FRAME_BYTES"],
)
# Every event gets its stream's next `seq` and stays in a per-stream log, so a
# client that reconnects can `subscribe` with `since` and get what it missed.
# With REDIS_URL the log is in Redis, shared by every server process.
REALTIME_API_REDIS_URL = env.str("REDIS_URL", default="") or None
REALTIME_API_REDIS_PREFIX = redis_prefix(env)
REALTIME_API_EVENT_LOG_SIZE = env.int(
    "REALTIME_API_EVENT_LOG_SIZE",
    default=REALTIME_DEFAULTS["REALTIME_API_EVENT_LOG_SIZE"],
)
REALTIME_API_EVENT_LOG_SECONDS = env.int(
    "REALTIME_API_EVENT_LOG_SECONDS",
    default=REALTIME_DEFAULTS["REALTIME_API_EVENT_LOG_SECONDS"],
)
# Presence (PROTOCOL.md): each process refreshes its sockets' presence every
# HEARTBEAT seconds; a process that dies takes it with it within TTL + HEARTBEAT
# (20 s). A user whose last socket closed stays GRACE seconds (a page reload).
REALTIME_API_PRESENCE_HEARTBEAT_SECONDS = env.float(
    "REALTIME_API_PRESENCE_HEARTBEAT_SECONDS",
    default=REALTIME_DEFAULTS["REALTIME_API_PRESENCE_HEARTBEAT_SECONDS"],
)
REALTIME_API_PRESENCE_TTL_SECONDS = env.float(
    "REALTIME_API_PRESENCE_TTL_SECONDS",
    default=REALTIME_DEFAULTS["REALTIME_API_PRESENCE_TTL_SECONDS"],
)
REALTIME_API_PRESENCE_GRACE_SECONDS = env.float(
    "REALTIME_API_PRESENCE_GRACE_SECONDS",
    default=REALTIME_DEFAULTS["REALTIME_API_PRESENCE_GRACE_SECONDS"],
)
# Without Redis the log is in each process's memory: at most this many bytes
# per stream (an estimate; deletes carry their data, other events none).
REALTIME_API_EVENT_LOG_BYTES = env.int(
    "REALTIME_API_EVENT_LOG_BYTES",
    default=REALTIME_DEFAULTS["REALTIME_API_EVENT_LOG_BYTES"],
)
# Limits and overload (PROTOCOL.md): what one socket may cost. Frames over
# the rate (a second, on average) or the burst are answered 429 and not run;
# a socket that goes on is closed with 4008. None turns the rate off.
REALTIME_API_FRAME_RATE = (
    env.float(
        "REALTIME_API_FRAME_RATE", default=REALTIME_DEFAULTS["REALTIME_API_FRAME_RATE"]
    )
    or None
)
REALTIME_API_FRAME_BURST = env.int(
    "REALTIME_API_FRAME_BURST", default=REALTIME_DEFAULTS["REALTIME_API_FRAME_BURST"]
)
# Frames of a socket waiting to be answered; more are answered 429.
REALTIME_API_MAX_PENDING_FRAMES = env.int(
    "REALTIME_API_MAX_PENDING_FRAMES",
    default=REALTIME_DEFAULTS["REALTIME_API_MAX_PENDING_FRAMES"],
)
# Subscriptions (filters) and live queries a socket may hold; more are 429.
REALTIME_API_MAX_SUBSCRIPTIONS = env.int(
    "REALTIME_API_MAX_SUBSCRIPTIONS",
    default=REALTIME_DEFAULTS["REALTIME_API_MAX_SUBSCRIPTIONS"],
)
REALTIME_API_MAX_WATCHES = env.int(
    "REALTIME_API_MAX_WATCHES", default=REALTIME_DEFAULTS["REALTIME_API_MAX_WATCHES"]
)
# Bytes waiting to be sent to a socket that does not read; past them it is
# closed with 4009 (a slow consumer: it reconnects and resumes with `since`).
REALTIME_API_MAX_QUEUED_BYTES = env.int(
    "REALTIME_API_MAX_QUEUED_BYTES",
    default=REALTIME_DEFAULTS["REALTIME_API_MAX_QUEUED_BYTES"],
)
# Objects a live query may match when it starts: it keeps their ids in
# memory (about 70 bytes each); a watch matching more is answered 400.
REALTIME_API_MAX_WATCH_MATCHES = env.int(
    "REALTIME_API_MAX_WATCH_MATCHES",
    default=REALTIME_DEFAULTS["REALTIME_API_MAX_WATCH_MATCHES"],
)
# Objects a `since` replay may evaluate (a recheck counts 20); past them the
# answer is a gap ("resumed": false, "gap": true: re-read, then subscribe
# without since).
REALTIME_API_MAX_REPLAY_CHANGES = env.int(
    "REALTIME_API_MAX_REPLAY_CHANGES",
    default=REALTIME_DEFAULTS["REALTIME_API_MAX_REPLAY_CHANGES"],
)
# Budgets per user (or, anonymous, per client address), per server process
# (realtime_api/limits/budgets.py): sockets open at once (0: no limit; one more
# handshake is refused with HTTP 429 and Retry-After), frames a second and at
# once and signals a second and at once of all its sockets together (429 with
# `wait`), subscriptions and live queries of all its sockets (429 naming it).
REALTIME_API_MAX_SOCKETS_PER_USER = env.int(
    "REALTIME_API_MAX_SOCKETS_PER_USER",
    default=REALTIME_DEFAULTS["REALTIME_API_MAX_SOCKETS_PER_USER"],
)
REALTIME_API_MAX_SOCKETS_PER_ADDRESS = env.int(
    "REALTIME_API_MAX_SOCKETS_PER_ADDRESS",
    default=REALTIME_DEFAULTS["REALTIME_API_MAX_SOCKETS_PER_ADDRESS"],
)
REALTIME_API_USER_FRAME_RATE = (
    env.float(
        "REALTIME_API_USER_FRAME_RATE",
        default=REALTIME_DEFAULTS["REALTIME_API_USER_FRAME_RATE"],
    )
    or None
)
REALTIME_API_USER_FRAME_BURST = env.int(
    "REALTIME_API_USER_FRAME_BURST",
    default=REALTIME_DEFAULTS["REALTIME_API_USER_FRAME_BURST"],
)
REALTIME_API_USER_SIGNALS_PER_SECOND = env.float(
    "REALTIME_API_USER_SIGNALS_PER_SECOND",
    default=REALTIME_DEFAULTS["REALTIME_API_USER_SIGNALS_PER_SECOND"],
)
REALTIME_API_USER_SIGNAL_BURST = env.int(
    "REALTIME_API_USER_SIGNAL_BURST",
    default=REALTIME_DEFAULTS["REALTIME_API_USER_SIGNAL_BURST"],
)
REALTIME_API_MAX_SUBSCRIPTIONS_PER_USER = env.int(
    "REALTIME_API_MAX_SUBSCRIPTIONS_PER_USER",
    default=REALTIME_DEFAULTS["REALTIME_API_MAX_SUBSCRIPTIONS_PER_USER"],
)
REALTIME_API_MAX_WATCHES_PER_USER = env.int(
    "REALTIME_API_MAX_WATCHES_PER_USER",
    default=REALTIME_DEFAULTS["REALTIME_API_MAX_WATCHES_PER_USER"],
)
# Proxies (addresses or networks) whose X-Real-IP / X-Forwarded-For names the
# client; from any other peer those headers are ignored. Behind the deployed
# nginx, daphne's --proxy-headers already gives the client's address: leave
# this empty then.
REALTIME_API_TRUSTED_PROXIES = env.list(
    "REALTIME_API_TRUSTED_PROXIES",
    default=REALTIME_DEFAULTS["REALTIME_API_TRUSTED_PROXIES"],
)
# Admission of handshakes, per server process (realtime_api/limits/handshake_rate.py):
# past the handshakes a second (on average; 0: no limit) and at once one
# client address may start, HTTP 429 with Retry-After; past the handshakes
# the process works on at once (0: no bound), HTTP 503 with a Retry-After of
# 1 to 5 s. A reconnect storm after a restart then costs what the process
# can take (PROTOCOL.md, "Reconnecting clients").
REALTIME_API_HANDSHAKE_RATE_PER_ADDRESS = env.float(
    "REALTIME_API_HANDSHAKE_RATE_PER_ADDRESS",
    default=REALTIME_DEFAULTS["REALTIME_API_HANDSHAKE_RATE_PER_ADDRESS"],
)
REALTIME_API_HANDSHAKE_BURST_PER_ADDRESS = env.int(
    "REALTIME_API_HANDSHAKE_BURST_PER_ADDRESS",
    default=REALTIME_DEFAULTS["REALTIME_API_HANDSHAKE_BURST_PER_ADDRESS"],
)
REALTIME_API_MAX_HANDSHAKES_IN_FLIGHT = env.int(
    "REALTIME_API_MAX_HANDSHAKES_IN_FLIGHT",
    default=REALTIME_DEFAULTS["REALTIME_API_MAX_HANDSHAKES_IN_FLIGHT"],
)
# Wrong `Authorization: Basic` passwords one client address may try on
# sockets, per process (realtime_api/limits/password_failures.py): 10 (0: no
# limit), then one more each 300 / 10 seconds; past that its Basic
# handshakes are HTTP 429 with Retry-After before any password is hashed.
REALTIME_API_PASSWORD_FAILURES_PER_ADDRESS = env.int(
    "REALTIME_API_PASSWORD_FAILURES_PER_ADDRESS",
    default=REALTIME_DEFAULTS["REALTIME_API_PASSWORD_FAILURES_PER_ADDRESS"],
)
REALTIME_API_PASSWORD_FAILURE_SECONDS = env.float(
    "REALTIME_API_PASSWORD_FAILURE_SECONDS",
    default=REALTIME_DEFAULTS["REALTIME_API_PASSWORD_FAILURE_SECONDS"],
)
# Threads running the views of socket requests (realtime_api/streams/view_threads.py);
# 0: one on SQLite (one writer at a time), four on PostgreSQL. Each holds a
# database connection while a view runs: keep it under DATABASE_POOL_MAX_SIZE.
REALTIME_API_VIEW_THREADS = env.int(
    "REALTIME_API_VIEW_THREADS", default=REALTIME_DEFAULTS["REALTIME_API_VIEW_THREADS"]
)
# Handshakes with an Authorization header are authenticated in threads of
# their own, never in the database thread every socket shares
# (realtime_api/auth/pool.py): Basic passwords in PASSWORD_THREADS, other
# schemes in AUTH_THREADS; past the threads + AUTH_QUEUE waiting, refused (403).
REALTIME_API_AUTH_THREADS = env.int(
    "REALTIME_API_AUTH_THREADS", default=REALTIME_DEFAULTS["REALTIME_API_AUTH_THREADS"]
)
REALTIME_API_PASSWORD_THREADS = env.int(
    "REALTIME_API_PASSWORD_THREADS",
    default=REALTIME_DEFAULTS["REALTIME_API_PASSWORD_THREADS"],
)
REALTIME_API_AUTH_QUEUE = env.int(
    "REALTIME_API_AUTH_QUEUE", default=REALTIME_DEFAULTS["REALTIME_API_AUTH_QUEUE"]
)
# Pages on these origins (besides those Django's CSRF check accepts) may open
# a socket with a ticket from POST /api/realtime/ticket/, e.g.
# "https://app.example.com": tickets only (realtime_api/auth/origins.py).
REALTIME_API_ALLOWED_ORIGINS = env.list(
    "REALTIME_API_ALLOWED_ORIGINS",
    default=REALTIME_DEFAULTS["REALTIME_API_ALLOWED_ORIGINS"],
)
# Seconds a ticket stays usable (at most 60); each opens one socket, once.
REALTIME_API_TICKET_SECONDS = env.int(
    "REALTIME_API_TICKET_SECONDS",
    default=REALTIME_DEFAULTS["REALTIME_API_TICKET_SECONDS"],
)
# /metrics answers staff sessions and `Authorization: Bearer <this token>`.
# With several processes, also set PROMETHEUS_MULTIPROC_DIR
# (realtime_api/ops/metrics.py).
REALTIME_API_METRICS_TOKEN = env.str("METRICS_TOKEN", default="") or None

# --- Logging --------------------------------------------------------------------------
# Everything to the console (stderr); the process manager collects it.
# https://docs.djangoproject.com/en/5.2/topics/logging/

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "console": {
            "format": "{asctime} {levelname} {name}: {message}",
            "style": "{",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "console"},
    },
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "django": {
            "handlers": ["console"],
            "level": env.str("DJANGO_LOG_LEVEL", default="INFO"),
            "propagate": False,
        },
        "realtime_api": {
            "handlers": ["console"],
            "level": "INFO",
            "propagate": False,
        },
    },
}
