"""Auth API: register, tokens, the current user."""

from flask import current_app
from flask.views import MethodView
from flask_smorest import abort

from app.api_auth import api_blueprint, api_user, public
from app.blueprints.auth import operations as ops
from app.blueprints.auth.schemas import (
    NewTokenSchema,
    PasswordSchema,
    RegisterSchema,
    TokenRequestSchema,
    TokenSchema,
    UserSchema,
)
from app.extensions import db, limiter

api_bp = api_blueprint("auth_api", __name__, description="Accounts and API tokens")


def _limit(setting: str):
    return limiter.limit(lambda: current_app.config[setting], methods=["POST"])


@api_bp.route("/auth/register")
class Register(MethodView):
    decorators = [_limit("RATELIMIT_REGISTER")]

    @public
    @api_bp.doc(security=[])
    @api_bp.arguments(RegisterSchema)
    @api_bp.response(201, UserSchema)
    @api_bp.alt_response(409, description="The e-mail is taken.")
    @api_bp.alt_response(403, description="Registration is closed.")
    def post(self, data):
        """Create an account (the first one is the admin)."""
        user = ops.register_user(data["email"], data["password"],
                                 registration_open=current_app.config["REGISTRATION_OPEN"])
        db.session.commit()
        return user


@api_bp.route("/auth/tokens")
class Tokens(MethodView):
    decorators = [_limit("RATELIMIT_TOKENS")]

    @public
    @api_bp.doc(security=[])
    @api_bp.arguments(TokenRequestSchema)
    @api_bp.response(201, NewTokenSchema)
    @api_bp.alt_response(401, description="Wrong credentials.")
    def post(self, data):
        """Exchange an e-mail and password for a new API token (shown only here)."""
        user = ops.authenticate(data["email"], data["password"])
        token, secret = ops.create_token(user, data["name"], data.get("expires_in_days"))
        db.session.commit()
        token.token = secret
        return token

    @api_bp.response(200, TokenSchema(many=True))
    def get(self):
        """List your tokens (never their secrets)."""
        return ops.list_tokens(api_user())


@api_bp.route("/auth/tokens/<int:token_id>")
class TokenItem(MethodView):
    @api_bp.response(204)
    def delete(self, token_id):
        """Revoke a token."""
        ops.revoke_token(api_user(), token_id)
        db.session.commit()


@api_bp.route("/auth/me")
class Me(MethodView):
    @api_bp.response(200, UserSchema)
    def get(self):
        """The user the token belongs to."""
        return api_user()

    @api_bp.arguments(PasswordSchema)
    @api_bp.response(204)
    def delete(self, data):
        """Erase your account and everything you own."""
        user = api_user()
        if user is None:
            abort(401)
        ops.delete_account(user, data["password"])
        db.session.commit()
