"""The clean page: build an operation, preview it, apply it as a new version, undo."""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_login import current_user, login_required

from app.blueprints.datasets import pages, service
from app.blueprints.datasets.operation_forms import operation_from_form
from app.blueprints.datasets.views import DATASET_CHANGED, bp
from app.extensions import db
from app.htmx import is_htmx, render


def _workspace(dataset, status: int = 200, changed: bool = False, **extra):
    """The workspace fragment for htmx, the whole clean page otherwise; `changed` announces a new version."""
    response = render("datasets/clean.html", "datasets/_workspace.html", **pages.clean(dataset, **extra))
    if changed:
        response.headers["HX-Trigger"] = DATASET_CHANGED
    return response, status


@bp.route("/datasets/<int:dataset_id>/clean")
@login_required
def clean(dataset_id: int):
    """Operations on the latest version, their history and undo."""
    return _workspace(service.get_dataset(current_user, dataset_id))


@bp.route("/datasets/<int:dataset_id>/clean/preview", methods=["POST"])
@login_required
def preview(dataset_id: int):
    """What an operation would change, without applying it (the first rows and the counts)."""
    dataset = service.get_dataset(current_user, dataset_id)
    op, params = operation_from_form(request.form)
    result = pages.preview(dataset, op, params)
    if is_htmx():
        return render("datasets/_preview.html", preview=result, dataset={"id": dataset.id})
    return _workspace(dataset, preview=result)


@bp.route("/datasets/<int:dataset_id>/clean/apply", methods=["POST"])
@login_required
def apply(dataset_id: int):
    """Apply an operation as a new version (an invalid one is a 422 and changes nothing)."""
    dataset = service.get_dataset(current_user, dataset_id)
    op, params = operation_from_form(request.form)
    service.apply(dataset, op, params)
    db.session.commit()
    message = f"Applied {op}: this is version {dataset.current_version}."
    if is_htmx():
        return _workspace(dataset, changed=True, message=message)
    flash(message, "success")
    return redirect(url_for("datasets.clean", dataset_id=dataset_id), 303)


@bp.route("/datasets/<int:dataset_id>/undo", methods=["POST"])
@login_required
def undo(dataset_id: int):
    """Go back one version (409 at version 1)."""
    dataset = service.get_dataset(current_user, dataset_id)
    service.undo(dataset)
    db.session.commit()
    message = f"Undone: back to version {dataset.current_version}."
    if is_htmx():
        return _workspace(dataset, changed=True, message=message)
    flash(message, "success")
    return redirect(url_for("datasets.clean", dataset_id=dataset_id), 303)
