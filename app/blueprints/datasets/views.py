"""Dataset pages: the home with uploads, the table, the profile; cleaning is in clean_views."""

from __future__ import annotations

from dataclasses import replace

from flask import Blueprint, current_app, flash, redirect, request, url_for
from flask_login import current_user, login_required

from app.blueprints.datasets import pages, service
from app.blueprints.datasets.downloads import send_export
from app.blueprints.datasets.forms import EmptyForm, RenameForm, ReparseForm, UploadForm
from app.blueprints.datasets.sample import create_sample_dataset
from app.blueprints.datasets.table_query import TableQuery
from app.blueprints.datasets.uploads import uploaded_path
from app.errors import Conflict, DomainError
from app.extensions import db, limiter
from app.htmx import go, is_htmx, render
from app.ratelimits import per_user

bp = Blueprint("datasets", __name__)
TABLE_ID = "dataset-table"
DATASET_CHANGED = "dataset-changed"  # the HX-Trigger event of a new version; the header refreshes itself



# Browser uploads and the sample share one per-user budget of RATELIMIT_UPLOADS (the API's setting;
# the API counts its own uploads apart).
upload_limit = limiter.shared_limit(lambda: current_app.config["RATELIMIT_UPLOADS"], scope="browser-uploads",
                                    key_func=per_user)


def _table_response(context: dict, status: int, query: TableQuery, dataset_id: int):
    """The table fragment for the table's own htmx requests, the page otherwise (STYLE 10)."""
    fragment = is_htmx() and request.headers.get("HX-Target") == TABLE_ID
    context.setdefault("message", None)
    response = render("datasets/show.html", "datasets/_table.html" if fragment else None, **context,
                      rename_form=RenameForm(name=context["dataset"]["name"]), reparse_form=ReparseForm(),
                      empty_form=EmptyForm())
    if fragment:
        response.headers["HX-Push-Url"] = url_for("datasets.show", dataset_id=dataset_id, **query.args())
    return response, status


@bp.route("/")
@login_required
def index():
    """The datasets home: the user's datasets, an upload card and the sample dataset."""
    return render("datasets/index.html", datasets=pages.home(current_user), form=UploadForm(),
                  empty_form=EmptyForm())


@bp.route("/datasets/upload", methods=["POST"])
@login_required
@upload_limit
def upload():
    """Store an uploaded CSV as a new dataset and open it."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise DomainError("Choose a file to upload.", {"form": {"file": ["No file was chosen."]}})
    form = UploadForm()
    if not form.validate():
        raise DomainError("The name is too long (200 characters at most).", {"form": form.errors})
    dataset = service.create_dataset(current_user, uploaded_path(upload), upload.filename, form.name.data)
    db.session.commit()
    flash(f"“{dataset.name}” is ready. Check how the file was read below.", "success")
    return go(url_for("datasets.show", dataset_id=dataset.id))


@bp.route("/datasets/sample", methods=["POST"])
@login_required
@upload_limit
def sample():
    """Load the shipped sample dataset (Palmer penguins) as a new dataset."""
    dataset = create_sample_dataset(current_user)
    db.session.commit()
    flash("The Palmer penguins sample is ready: 344 penguins, try predicting their species.", "success")
    return go(url_for("datasets.show", dataset_id=dataset.id))


@bp.route("/datasets/<int:dataset_id>")
@login_required
def show(dataset_id: int):
    """The table: a page of rows, sorted, filtered and searched; htmx swaps only the table."""
    dataset = service.get_dataset(current_user, dataset_id)
    query = TableQuery.from_args(request.args)
    context, status = pages.table(dataset, query)
    return _table_response(context, status, query, dataset_id)


@bp.route("/datasets/<int:dataset_id>/rows/<int:position>/delete", methods=["POST"])
@login_required
def delete_row(dataset_id: int, position: int):
    """The row action "delete this row": drop_rows as a new version, then the table again."""
    dataset = service.get_dataset(current_user, dataset_id)
    if request.form.get("version", type=int) not in (None, dataset.current_version):
        raise Conflict("The dataset changed since this page was shown: reload it and try again.")
    service.apply(dataset, "drop_rows", {"row_numbers": [position]})
    db.session.commit()
    message = f"Row {position} deleted: this is version {dataset.current_version}. Undo it on the Clean page."
    query = replace(TableQuery.from_args(request.args), version=None)
    if not is_htmx():
        flash(message, "success")
        return redirect(url_for("datasets.show", dataset_id=dataset_id, **query.args()), 303)
    context, status = pages.table(dataset, query)
    response, status = _table_response({**context, "message": message}, status, query, dataset_id)
    response.headers["HX-Trigger"] = DATASET_CHANGED
    return response, status


@bp.route("/datasets/<int:dataset_id>/reparse", methods=["POST"])
@login_required
def reparse(dataset_id: int):
    """Read the original file again with the settings chosen, as a new version."""
    dataset = service.get_dataset(current_user, dataset_id)
    form = ReparseForm()
    if not form.validate():
        raise DomainError("Choose the settings from the lists.", {"form": form.errors})
    service.reparse(dataset, form.options())
    db.session.commit()
    flash(f"The file was read again: this is version {dataset.current_version}.", "success")
    return go(url_for("datasets.show", dataset_id=dataset_id))


@bp.route("/datasets/<int:dataset_id>/rename", methods=["POST"])
@login_required
def rename(dataset_id: int):
    """Rename the dataset."""
    dataset = service.get_dataset(current_user, dataset_id)
    form = RenameForm()
    if not form.validate():
        raise DomainError("Give the dataset a name of at most 200 characters.", {"form": form.errors})
    service.rename(dataset, form.name.data)
    db.session.commit()
    flash("Dataset renamed.", "success")
    return go(url_for("datasets.show", dataset_id=dataset_id))


@bp.route("/datasets/<int:dataset_id>/delete", methods=["POST"])
@login_required
def delete(dataset_id: int):
    """Delete the dataset, every version and its files."""
    dataset = service.get_dataset(current_user, dataset_id)
    name = dataset.name
    service.delete(dataset)
    db.session.commit()
    flash(f"“{name}” was deleted.", "success")
    return go(url_for("datasets.index"))


@bp.route("/datasets/<int:dataset_id>/download")
@login_required
def download(dataset_id: int):
    """A version as CSV (formula-safe) or Parquet."""
    dataset = service.get_dataset(current_user, dataset_id)
    fmt = request.args.get("format", "csv")
    return send_export(dataset, request.args.get("version", type=int), fmt if fmt in ("csv", "parquet") else "")


@bp.route("/datasets/<int:dataset_id>/meta")
@login_required
def meta(dataset_id: int):
    """The header's rows x columns and version line, for its own refresh (the table page otherwise)."""
    dataset = service.get_dataset(current_user, dataset_id)
    if not is_htmx():
        return redirect(url_for("datasets.show", dataset_id=dataset_id))
    return render("datasets/_meta.html", dataset=pages.header(dataset))


@bp.route("/datasets/<int:dataset_id>/profile")
@login_required
def profile(dataset_id: int):
    """The profile: per-column statistics and charts, correlations, missing values, warnings."""
    dataset = service.get_dataset(current_user, dataset_id)
    return render("datasets/profile.html", **pages.profile(dataset, request.args.get("version", type=int)))


from app.blueprints.datasets import clean_views  # noqa: E402,F401  (its routes join bp)
