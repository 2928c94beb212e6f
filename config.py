"""Settings read from the environment (12-factor), with safe embedded defaults.

Everything an installation owns lives under INSTANCE_DIR: the SQLite file, the
data directory, the MLflow store and a generated secret key, so pointing
INSTANCE_DIR at an empty folder gives a brand-new installation.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

UNSAFE_SECRET_KEYS = {"", "dev", "secret", "change-me", "changeme", "please-change-me"}


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def _instance_secret(instance_dir: Path) -> str:
    """Return the installation's secret key, generating it on first start."""
    path = instance_dir / "secret_key"
    if not path.exists():
        instance_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


class Config:
    """Embedded defaults: SQLite, local files, local MLflow store, in-process jobs."""

    TESTING = False
    PRODUCTION = False

    def __init__(self) -> None:
        env = os.environ.get
        self.HOST = env("HOST", "127.0.0.1")
        self.PORT = env_int("PORT", 8000)
        self.INSTANCE_DIR = Path(env("INSTANCE_DIR", "instance")).resolve()
        self.DATA_DIR = Path(env("DATA_DIR") or self.INSTANCE_DIR / "data").resolve()
        self.SQLALCHEMY_DATABASE_URI = normalise_database_url(
            env("DATABASE_URL") or f"sqlite:///{self.INSTANCE_DIR / 'csv_analyzer.sqlite3'}"
        )
        self.MLFLOW_TRACKING_URI = env("MLFLOW_TRACKING_URI") or (
            f"sqlite:///{self.INSTANCE_DIR / 'mlflow' / 'mlflow.db'}"
        )
        self.MLFLOW_ARTIFACT_ROOT = Path(
            env("MLFLOW_ARTIFACT_ROOT") or self.INSTANCE_DIR / "mlflow" / "artifacts"
        ).resolve()
        self.SECRET_KEY = env("SECRET_KEY") or None
        self.MAX_UPLOAD_MB = env_int("MAX_UPLOAD_MB", 500)
        self.BATCH_SYNC_ROWS = env_int("BATCH_SYNC_ROWS", 50_000)  # batch predictions above: a job
        self.USER_QUOTA_MB = env_int("USER_QUOTA_MB", 0)  # per-user storage (data + models); 0 = unlimited
        self.PREDICTION_RETENTION_DAYS = env_int("PREDICTION_RETENTION_DAYS", 30)
        self.PREDICT_MAX_ROWS = env_int("PREDICT_MAX_ROWS", 10_000)  # rows per JSON prediction call
        self.PREDICTION_SAMPLE_RATE = float(env("PREDICTION_SAMPLE_RATE") or 1.0)  # kept for drift
        self.PREDICTION_SAMPLE_MAX_PER_DAY = env_int("PREDICTION_SAMPLE_MAX_PER_DAY", 10_000)
        self.MODEL_CACHE_SIZE = env_int("MODEL_CACHE_SIZE", 16)  # loaded models kept per process
        self.ARROW_THREADS = env_int("ARROW_THREADS", 0)  # Arrow's CPU pool per process; 0: all cores
        self.REGISTRATION_OPEN = env_bool("REGISTRATION_OPEN", True)
        self.JOB_BACKEND = env("JOB_BACKEND", "local")
        self.CELERY_BROKER_URL = env("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
        self.METRICS_TOKEN = env("METRICS_TOKEN") or None
        self.TRUSTED_PROXIES = env_int("TRUSTED_PROXIES", 0)
        self.SESSION_IDLE_MINUTES = env_int("SESSION_IDLE_MINUTES", 60 * 12)
        self.SESSION_ABSOLUTE_HOURS = env_int("SESSION_ABSOLUTE_HOURS", 24 * 30)
        self.RATELIMIT_ENABLED = env_bool("RATELIMIT_ENABLED", True)
        self.RATELIMIT_STORAGE_URI = env("RATELIMIT_STORAGE_URI", "memory://")
        self.RATELIMIT_LOGIN = env("RATELIMIT_LOGIN", "10/minute")
        self.RATELIMIT_REGISTER = env("RATELIMIT_REGISTER", "30/hour")
        self.RATELIMIT_TOKENS = env("RATELIMIT_TOKENS", "30/hour")
        self.RATELIMIT_UPLOADS = env("RATELIMIT_UPLOADS", "120/hour")
        self.RATELIMIT_TRAINING = env("RATELIMIT_TRAINING", "60/hour")
        self.SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
        self.LOG_LEVEL = env("LOG_LEVEL", "INFO")

    # Static Flask settings.
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
    RATELIMIT_HEADERS_ENABLED = True
    API_TITLE = "CSV Analyzer API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api"
    OPENAPI_JSON_PATH = "openapi.json"
    API_SPEC_OPTIONS = {
        "security": [{"bearerAuth": []}],
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "description": "An API token."}
            }
        },
    }

    def finalise(self) -> None:
        """Derive settings that depend on others and create the instance folders."""
        self.INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
        self.DATA_DIR.mkdir(parents=True, exist_ok=True)
        if self.SQLALCHEMY_DATABASE_URI.startswith("sqlite:"):
            self.SQLALCHEMY_ENGINE_OPTIONS = {"connect_args": {"timeout": 30}}
        if not self.SECRET_KEY:
            if self.PRODUCTION:
                raise RuntimeError("SECRET_KEY must be set in production.")
            self.SECRET_KEY = _instance_secret(self.INSTANCE_DIR)
        if self.PRODUCTION and (
            self.SECRET_KEY.lower() in UNSAFE_SECRET_KEYS or len(self.SECRET_KEY) < 32
        ):
            raise RuntimeError("SECRET_KEY is a default or too short (32+ characters) for production.")
        self.MAX_CONTENT_LENGTH = self.MAX_UPLOAD_MB * 1024 * 1024 + 64 * 1024


class ProductionConfig(Config):
    """Behind gunicorn for real users: refuses an unsafe secret key."""

    PRODUCTION = True


class TestConfig(Config):
    """Used by the test suite with a temporary instance folder."""

    TESTING = True
    WTF_CSRF_ENABLED = True

    def __init__(self, instance_dir: Path | str) -> None:
        super().__init__()
        self.INSTANCE_DIR = Path(instance_dir).resolve()
        self.DATA_DIR = self.INSTANCE_DIR / "data"
        self.SQLALCHEMY_DATABASE_URI = f"sqlite:///{self.INSTANCE_DIR / 'csv_analyzer.sqlite3'}"
        self.MLFLOW_TRACKING_URI = f"sqlite:///{self.INSTANCE_DIR / 'mlflow' / 'mlflow.db'}"
        self.MLFLOW_ARTIFACT_ROOT = self.INSTANCE_DIR / "mlflow" / "artifacts"
        self.SECRET_KEY = "test-secret-key-that-is-long-enough-for-tests"  # noqa: S105
        self.RATELIMIT_ENABLED = False
        self.PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"  # noqa: S105 (fast hashing, tests only)


def normalise_database_url(url: str) -> str:
    """Send postgresql:// URLs to the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def config_from_env() -> Config:
    """Pick the settings class from APP_ENV (production or development)."""
    cls = ProductionConfig if os.environ.get("APP_ENV", "").lower() == "production" else Config
    return cls()
