"""Health, readiness and the API documentation page."""
