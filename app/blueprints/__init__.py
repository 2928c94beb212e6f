"""Features of the web app, each an HTML blueprint and a flask-smorest API."""
