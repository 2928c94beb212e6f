-- Run once by the postgres image on its first start (empty data volume), as
-- POSTGRES_USER: the MLflow tracking server keeps its tables (and its own
-- alembic_version) in a database of its own, beside the app's.
CREATE DATABASE mlflow;
