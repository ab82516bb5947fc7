"""Settings for the test suite: the project's settings with a throwaway secret.

The InfluxDB connection is not set here: tests/conftest.py points INFLUX_* at the local
InfluxDB-compatible server it starts (or at a real InfluxDB named by IOTCENTER_TEST_INFLUX_URL).
"""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-not-a-secret")

from iotcenter.settings import *  # noqa: F403

STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
# Serve static files through the finders, as in development: no collectstatic before tests.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
