"""Marshmallow schemas of the datasets API (shapes of API.md)."""

from flask_smorest.fields import Upload
from marshmallow import Schema, validate

from app import api_fields as fields

KINDS = ["integer", "float", "boolean", "categorical", "datetime", "text", "id"]
DELIMITERS = [",", ";", "\t", "|", " "]
Any = fields.Raw(allow_none=True)


class DialectSchema(Schema):
    encoding = fields.String()
    delimiter = fields.String()
    quotechar = fields.String(allow_none=True)
    escapechar = fields.String(allow_none=True)
    decimal = fields.String()
    thousands = fields.String(allow_none=True)
    header = fields.Boolean()
    skipped_lines = fields.Integer()


class ColumnSchema(Schema):
    name = fields.String()
    kind = fields.String(validate=validate.OneOf(KINDS))
    missing = fields.Integer()
    unique = fields.Integer()


class WarningSchema(Schema):
    code = fields.String()
    message = fields.String()
    column = fields.String(allow_none=True)


class RepairsSchema(Schema):
    rows_repaired = fields.Integer()
    rows_skipped = fields.Integer()
    lines = fields.List(fields.Integer())


class DatasetSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    version = fields.Integer()
    n_rows = fields.Integer()
    n_cols = fields.Integer()
    size_bytes = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    source_filename = fields.String()
    dialect = fields.Nested(DialectSchema)
    columns = fields.List(fields.Nested(ColumnSchema))
    warnings = fields.List(fields.Nested(WarningSchema))
    repairs = fields.Nested(RepairsSchema)


class ParseOptionsSchema(Schema):
    delimiter = fields.String(validate=validate.OneOf([*DELIMITERS, "tab", "\\t"]))
    encoding = fields.String(validate=validate.Length(min=1, max=40))
    decimal = fields.String(validate=validate.OneOf([".", ","]))
    header = fields.Boolean()


class UploadFormSchema(ParseOptionsSchema):
    name = fields.String(validate=validate.Length(max=200))


class UploadSchema(UploadFormSchema):
    """The multipart body of an upload (documented; parsed by uploads.parse_upload)."""

    file = Upload(required=True, metadata={"description": "A .csv, .tsv, .txt, .csv.gz or .zip with one CSV."})


class RenameSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))


class VersionSchema(Schema):
    version = fields.Integer()
    n_rows = fields.Integer()
    n_cols = fields.Integer()
    operation = fields.Dict()
    created_at = fields.DateTime()


class VersionQuerySchema(Schema):
    version = fields.Integer(validate=validate.Range(min=1))


class RowsQuerySchema(VersionQuerySchema):
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=1000))
    sort = fields.String()
    order = fields.String(load_default="asc", validate=validate.OneOf(["asc", "desc"]))
    q = fields.String(validate=validate.Length(max=200))
    filter = fields.List(fields.String(validate=validate.Length(max=500)), load_default=list,
                         metadata={"description": "Repeatable column:operator:value."})


class RowsSchema(Schema):
    total = fields.Integer()
    offset = fields.Integer()
    limit = fields.Integer()
    columns = fields.List(fields.String())
    rows = fields.List(fields.Dict(keys=fields.String(), values=Any))


class ProfileSchema(Schema):
    n_rows = fields.Integer()
    n_cols = fields.Integer()
    duplicated_rows = fields.Integer()
    columns = fields.List(fields.Dict())
    correlations = fields.Dict()
    warnings = fields.List(fields.Nested(WarningSchema))


class OperationSchema(Schema):
    op = fields.String(required=True, validate=validate.Length(min=1, max=50))
    params = fields.Dict(keys=fields.String(), load_default=dict)


class OperationRecordSchema(Schema):
    version = fields.Integer()
    op = fields.String()
    params = fields.Dict()
    created_at = fields.DateTime()


class PreviewSchema(Schema):
    columns = fields.List(fields.String())
    rows = fields.List(fields.Dict(keys=fields.String(), values=Any))
    rows_before = fields.Integer()
    rows_after = fields.Integer()
    cells_changed = fields.Integer()


class DownloadQuerySchema(VersionQuerySchema):
    format = fields.String(load_default="csv", validate=validate.OneOf(["csv", "parquet"]))
