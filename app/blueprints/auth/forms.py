"""WTForms for the auth pages (CSRF comes with FlaskForm)."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, PasswordField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional


class LoginForm(FlaskForm):
    email = StringField("E-mail", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])
    remember = BooleanField("Keep me signed in")


class RegisterForm(FlaskForm):
    email = StringField("E-mail", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password (10 characters or more)", validators=[DataRequired(), Length(max=1024)])


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired()])
    new_password = PasswordField("New password", validators=[DataRequired(), Length(max=1024)])


class TokenForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=100)])
    expires_in_days = IntegerField("Expires after (days, empty = never)",
                                   validators=[Optional(), NumberRange(min=1, max=3650)])


class DeleteAccountForm(FlaskForm):
    password = PasswordField("Password", validators=[DataRequired()])


class EmptyForm(FlaskForm):
    """A form with only its CSRF token, for buttons that POST."""
