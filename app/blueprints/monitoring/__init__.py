"""Monitoring: the Monitoring page, the caller's own figures, drift and live accuracy.

`bp` serves the HTML page and its fragments, `api_bp` the JSON endpoints. Modules
add their routes to these two blueprints; `routes` imports them all.
"""
