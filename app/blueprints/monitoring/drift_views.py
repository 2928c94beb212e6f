"""The drift fragment of a model: a table per feature, a chart per feature, live against held-out metrics.

GET /monitoring/models/<id>/drift?window=7d answers the fragment for htmx (the Monitoring page
and the model page load it) and a full page otherwise.
"""

from __future__ import annotations

from flask import request, url_for
from flask_login import current_user, login_required

from app.blueprints.monitoring import drift_service as service
from app.blueprints.monitoring.blueprints import bp
from app.extensions import db
from app.htmx import render


@bp.route("/monitoring/models/<int:model_id>/drift")
@login_required
def drift(model_id: int):
    """Drift of the model's recent inputs over the chosen window, and its live metrics."""
    panel = service.drift_panel(current_user, model_id, request.args.get("window"))
    db.session.commit()  # the cached training profile and the last figures
    panel["urls"] = {w: url_for("monitoring.drift", model_id=model_id, window=w) for w in panel["windows"]}
    panel["model_url"] = url_for("training.model", model_id=model_id)
    return render("monitoring/drift.html", "monitoring/_drift.html", drift=panel)
