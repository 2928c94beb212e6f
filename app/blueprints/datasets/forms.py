"""WTForms of the dataset pages (CSRF comes with FlaskForm)."""

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

AUTO = ""
DELIMITER_CHOICES = [(AUTO, "Detect"), (",", "Comma ,"), (";", "Semicolon ;"), ("tab", "Tab"),
                     ("|", "Pipe |"), (" ", "Space")]
ENCODING_CHOICES = [(AUTO, "Detect"), ("utf-8", "UTF-8"), ("utf-16", "UTF-16"),
                    ("latin-1", "Latin-1 (ISO-8859-1)"), ("cp1252", "Windows-1252")]
DECIMAL_CHOICES = [(AUTO, "Detect"), (".", "Point ."), (",", "Comma ,")]
HEADER_CHOICES = [(AUTO, "Detect"), ("true", "First row is the header"), ("false", "No header row")]


class UploadForm(FlaskForm):
    """The optional name of an upload (the file itself is read from request.files)."""

    name = StringField("Name (optional)", validators=[Optional(), Length(max=200)])


class RenameForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])


class ReparseForm(FlaskForm):
    delimiter = SelectField("Delimiter", choices=DELIMITER_CHOICES, default=AUTO)
    encoding = SelectField("Encoding", choices=ENCODING_CHOICES, default=AUTO)
    decimal = SelectField("Decimal separator", choices=DECIMAL_CHOICES, default=AUTO)
    header = SelectField("Header", choices=HEADER_CHOICES, default=AUTO)

    def options(self) -> dict:
        """The overrides service.reparse takes; 'Detect' leaves a setting out."""
        options = {key: getattr(self, key).data for key in ("delimiter", "encoding", "decimal", "header")}
        options = {k: v for k, v in options.items() if v not in (None, AUTO)}
        if options.get("delimiter") == "tab":
            options["delimiter"] = "\t"
        if "header" in options:
            options["header"] = options["header"] == "true"
        return options


class EmptyForm(FlaskForm):
    """A form with only its CSRF token, for buttons that POST."""
