"""The service layer: pure Python over pandas, pyarrow, DuckDB, scikit-learn and MLflow (no Flask)."""
