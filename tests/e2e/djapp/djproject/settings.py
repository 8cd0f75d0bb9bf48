"""Settings of the end-to-end Django site that runs behind Portcullis (tests/e2e/run_e2e.py).

Every machine-specific value comes from an E2E_* environment variable the driver sets. The
proxy-related settings are the ones a real deployment behind a TLS-terminating proxy needs.
"""
import os

import django

BASE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def env(name, default=None):
    value = os.environ.get(name, default)
    if value is None:
        raise RuntimeError("environment variable %s is required by djproject.settings" % name)
    return value


SECRET_KEY = env("E2E_SECRET_KEY")
DEBUG = False

# The driver talks to the proxy as https://localhost:PORT; the proxy's health checks send
# Host: localhost. Anything else is a DisallowedHost (400).
ALLOWED_HOSTS = ["localhost", "127.0.0.1"]

# Portcullis terminates TLS and sets X-Forwarded-Proto/-Host (always overwriting what a client
# sent), so Django may trust them.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
USE_X_FORWARDED_HOST = True
_https_port = env("E2E_HTTPS_PORT")
if django.VERSION >= (4, 0):
    CSRF_TRUSTED_ORIGINS = ["https://localhost:%s" % _https_port]
else:
    CSRF_TRUSTED_ORIGINS = ["localhost:%s" % _https_port]

SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.staticfiles",
    "notes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]

ROOT_URLCONF = "djproject.urls"
WSGI_APPLICATION = "djproject.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.mysql",
        "HOST": env("E2E_DB_HOST", "127.0.0.1"),
        "PORT": env("E2E_DB_PORT"),
        "NAME": env("E2E_DB_NAME"),
        "USER": env("E2E_DB_USER"),
        "PASSWORD": env("E2E_DB_PASSWORD"),
        "OPTIONS": {"charset": "utf8mb4"},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/private/"

USE_TZ = True
TIME_ZONE = "UTC"

STATIC_URL = "/static/"
STATIC_ROOT = env("E2E_STATIC_ROOT")
STATICFILES_STORAGE = "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    # The deliberate 500 and 400 of the status views are logged to gunicorn's stderr file.
    "loggers": {"django": {"handlers": ["console"], "level": "WARNING"}},
}
