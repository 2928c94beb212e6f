"""Datasets API: upload, list, explore, profile, clean, undo, download."""

from __future__ import annotations

from flask import current_app, request
from flask.views import MethodView

from app.api_auth import api_blueprint, api_user
from app.blueprints.datasets import service
from app.blueprints.datasets.downloads import send_export
from app.blueprints.datasets.schemas import (
    DatasetSchema,
    DownloadQuerySchema,
    OperationRecordSchema,
    OperationSchema,
    ParseOptionsSchema,
    PreviewSchema,
    ProfileSchema,
    RenameSchema,
    RowsQuerySchema,
    RowsSchema,
    UploadSchema,
    VersionQuerySchema,
    VersionSchema,
)
from app.blueprints.datasets.uploads import parse_options, parse_upload, uploaded_path
from app.extensions import db, limiter
from app.pagination import paginate_select
from app.ratelimits import per_user

api_bp = api_blueprint("datasets_api", __name__, description="Datasets: upload, explore, profile, clean")



def _summary(dataset):
    return service.dataset_summary(dataset)


@api_bp.route("/datasets")
class Datasets(MethodView):
    @api_bp.doc(requestBody={"required": True, "content": {"multipart/form-data": {"schema": UploadSchema}}})
    @api_bp.response(201, DatasetSchema)
    @api_bp.alt_response(413, description="Larger than MAX_UPLOAD_MB, also after decompression.")
    @api_bp.alt_response(415, description="Not a text file (decided from its bytes).")
    @api_bp.alt_response(422, description="No data rows, too many columns or bad rows, a cell over 1 MB, a bad archive.")
    @limiter.limit(lambda: current_app.config["RATELIMIT_UPLOADS"], key_func=per_user)
    def post(self):
        """Upload a CSV file as a new dataset (its dialect detected unless given)."""
        form, upload = parse_upload(request)
        dataset = service.create_dataset(api_user(), uploaded_path(upload), upload.filename,
                                         form.get("name"), parse_options(form))
        db.session.commit()
        return _summary(dataset)

    @api_bp.paginate()
    @api_bp.response(200, DatasetSchema(many=True))
    def get(self, pagination_parameters):
        """Your datasets, newest first."""
        return [_summary(d) for d in paginate_select(service.list_datasets(api_user()), pagination_parameters)]


@api_bp.route("/datasets/<int:dataset_id>")
class DatasetItem(MethodView):
    @api_bp.response(200, DatasetSchema)
    def get(self, dataset_id):
        """A dataset at its latest version."""
        return _summary(service.get_dataset(api_user(), dataset_id))

    @api_bp.arguments(RenameSchema)
    @api_bp.response(200, DatasetSchema)
    def patch(self, data, dataset_id):
        """Rename a dataset."""
        dataset = service.rename(service.get_dataset(api_user(), dataset_id), data["name"])
        db.session.commit()
        return _summary(dataset)

    @api_bp.response(204)
    def delete(self, dataset_id):
        """Delete a dataset and its files."""
        service.delete(service.get_dataset(api_user(), dataset_id))
        db.session.commit()


@api_bp.route("/datasets/<int:dataset_id>/reparse")
class Reparse(MethodView):
    @api_bp.arguments(ParseOptionsSchema)
    @api_bp.response(201, DatasetSchema)
    def post(self, data, dataset_id):
        """Read the original file again with these settings, as a new version."""
        dataset = service.reparse(service.get_dataset(api_user(), dataset_id), parse_options(data))
        db.session.commit()
        return _summary(dataset)


@api_bp.route("/datasets/<int:dataset_id>/versions")
class Versions(MethodView):
    @api_bp.response(200, VersionSchema(many=True))
    def get(self, dataset_id):
        """Every version, newest first."""
        return service.list_versions(service.get_dataset(api_user(), dataset_id))


@api_bp.route("/datasets/<int:dataset_id>/rows")
class Rows(MethodView):
    @api_bp.arguments(RowsQuerySchema, location="query")
    @api_bp.response(200, RowsSchema)
    def get(self, args, dataset_id):
        """A page of rows: sorted, filtered (column:operator:value) and searched."""
        dataset = service.get_dataset(api_user(), dataset_id)
        return service.rows(dataset, args.pop("version", None), filters=args.pop("filter"), **args)


@api_bp.route("/datasets/<int:dataset_id>/profile")
class Profile(MethodView):
    @api_bp.arguments(VersionQuerySchema, location="query")
    @api_bp.response(200, ProfileSchema)
    def get(self, args, dataset_id):
        """Per-column statistics, histograms, correlations and warnings."""
        return service.profile(service.get_dataset(api_user(), dataset_id), args.get("version"))


@api_bp.route("/datasets/<int:dataset_id>/operations")
class Operations(MethodView):
    @api_bp.arguments(OperationSchema)
    @api_bp.response(201, DatasetSchema)
    def post(self, data, dataset_id):
        """Apply a cleaning operation as a new version."""
        dataset = service.apply(service.get_dataset(api_user(), dataset_id), data["op"], data["params"])
        db.session.commit()
        return _summary(dataset)

    @api_bp.response(200, OperationRecordSchema(many=True))
    def get(self, dataset_id):
        """The history of operations, newest first."""
        return service.operation_history(service.get_dataset(api_user(), dataset_id))


@api_bp.route("/datasets/<int:dataset_id>/operations/preview")
class Preview(MethodView):
    @api_bp.arguments(OperationSchema)
    @api_bp.response(200, PreviewSchema)
    def post(self, data, dataset_id):
        """What an operation would do, without applying it."""
        return service.preview(service.get_dataset(api_user(), dataset_id), data["op"], data["params"])


@api_bp.route("/datasets/<int:dataset_id>/undo")
class Undo(MethodView):
    @api_bp.response(200, DatasetSchema)
    @api_bp.alt_response(409, description="Already at version 1.")
    def post(self, dataset_id):
        """Go back one version."""
        dataset = service.undo(service.get_dataset(api_user(), dataset_id))
        db.session.commit()
        return _summary(dataset)


@api_bp.route("/datasets/<int:dataset_id>/download")
class Download(MethodView):
    @api_bp.arguments(DownloadQuerySchema, location="query")
    @api_bp.response(200, content_type="text/csv")
    def get(self, args, dataset_id):
        """A version as CSV (formula-safe) or Parquet."""
        dataset = service.get_dataset(api_user(), dataset_id)
        return send_export(dataset, args.get("version"), args["format"])
