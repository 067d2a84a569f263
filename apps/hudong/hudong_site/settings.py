"""Settings of 政民互动 (hudong), the portal's public Q&A channel.

Everything host-specific comes from the environment (the hudong role writes /etc/hudong/hudong.env,
read by the systemd unit): works with Django 3.2 (Debian 12's python3-django) and 4.2.

HUDONG_DB_ENGINE      postgresql (default; the host's own PostgreSQL through its socket, peer
                      authentication as the service's system user) or sqlite (the unit tests)
HUDONG_DB_NAME        database name (default hudong)
HUDONG_SECRET_KEY_FILE  file with Django's secret key (made on the host once, never in git)
HUDONG_ALLOWED_HOSTS  the portal's public name(s), comma-separated
HUDONG_STAFF_NETWORKS networks the staff pages answer (comma-separated CIDRs): the city's extranet
HUDONG_RATE_LIMIT     questions one address may post per hour (default 5)
HUDONG_MAX_CHARS      longest question body in characters (default 2000)
HUDONG_BEHIND_PROXY   1: take the client's address from X-Real-IP (nginx on the same host sets it;
                      gunicorn listens on loopback only, so nobody else can)
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def _env_list(name, default=""):
    return [x.strip() for x in os.environ.get(name, default).split(",") if x.strip()]


_key_file = os.environ.get("HUDONG_SECRET_KEY_FILE")
if _key_file:
    SECRET_KEY = Path(_key_file).read_text(encoding="ascii").strip()
else:  # the unit tests only: a real host always has its key file
    SECRET_KEY = "hudong-unit-tests-only-" + "x" * 40

DEBUG = False
ALLOWED_HOSTS = _env_list("HUDONG_ALLOWED_HOSTS", "testserver")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "liuyan",
]

MIDDLEWARE = [
    "liuyan.middleware.RealAddressMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]

ROOT_URLCONF = "hudong_site.urls"
WSGI_APPLICATION = "hudong_site.wsgi.application"

TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [],
    "APP_DIRS": True,  # autoescaping on: a <script> title is shown as text
    "OPTIONS": {"context_processors": ["django.template.context_processors.request",
                                       "django.contrib.auth.context_processors.auth"]},
}]

if os.environ.get("HUDONG_DB_ENGINE", "postgresql") == "sqlite":
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3",
                             # in memory unless named: nothing is written next to the code
                             "NAME": os.environ.get("HUDONG_DB_NAME", ":memory:"),
                             "ATOMIC_REQUESTS": True}}
else:
    # no HOST, USER or PASSWORD: the local socket, peer authentication as the service's own user
    DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql",
                             "NAME": os.environ.get("HUDONG_DB_NAME", "hudong"),
                             "ATOMIC_REQUESTS": True}}  # a request stores all of it or nothing
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": 12}},
]

LANGUAGE_CODE = "zh-hans"
TIME_ZONE = os.environ.get("HUDONG_TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

# HTTPS is nginx's: it tells us so, and only it can reach gunicorn (loopback)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = os.environ.get("HUDONG_BEHIND_PROXY") == "1"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 30 * 60
SESSION_COOKIE_PATH = CSRF_COOKIE_PATH = "/hudong/"
CSRF_FAILURE_VIEW = "liuyan.views.csrf_failure"
# nginx already sends HSTS, X-Frame-Options and redirects HTTP to HTTPS for the whole portal
SILENCED_SYSTEM_CHECKS = ["security.W002", "security.W004", "security.W008"]

LOGIN_URL = "liuyan:login"
LOGIN_REDIRECT_URL = "liuyan:staff"

# requests larger than this are refused before the form sees them (nginx refuses beyond 64 KiB)
DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024

HUDONG_RATE_LIMIT = int(os.environ.get("HUDONG_RATE_LIMIT", "5"))
HUDONG_MAX_CHARS = int(os.environ.get("HUDONG_MAX_CHARS", "2000"))
HUDONG_STAFF_NETWORKS = _env_list("HUDONG_STAFF_NETWORKS")
HUDONG_BEHIND_PROXY = os.environ.get("HUDONG_BEHIND_PROXY") == "1"

LOGGING = {"version": 1, "disable_existing_loggers": False,
           "handlers": {"console": {"class": "logging.StreamHandler"}},
           "root": {"handlers": ["console"], "level": "WARNING"}}
