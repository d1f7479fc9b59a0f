"""The JSON API under /api/v1: the blueprint, API tokens and the OpenAPI document.

Routes live in the modules of this package (events.py, registrations.py, …),
all on this one blueprint; importing this module imports them all (see the
end of the file and the convention in openapi.py).
"""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from flask_babel import lazy_gettext as _l

from ..auth.services import authenticate, issue_api_token
from ..errors import Unauthorized
from ..extensions import limiter
from ..security import account_key, failed_login
from .common import parse_body, respond
from .openapi import api_modules, build_document, operation
from .schemas import TokenIn, TokenOut

bp = Blueprint("api", __name__)


@bp.before_request
def _limit_body_size():
    # JSON bodies are small; the app-wide limit is sized for scans uploaded through web forms.
    request.max_content_length = current_app.config["API_MAX_CONTENT_LENGTH"]


@bp.after_request
def _challenge(response):
    if response.status_code == 401:
        response.headers.setdefault("WWW-Authenticate", 'Bearer realm="api"')
    response.headers.setdefault("Cache-Control", "no-store")
    return response


@bp.post("/tokens")
@limiter.limit(lambda: current_app.config["API_TOKEN_RATE_LIMIT"], deduct_when=failed_login)
@limiter.limit(lambda: current_app.config["LOGIN_ACCOUNT_RATE_LIMIT"], key_func=account_key, deduct_when=failed_login)
def create_token():
    body = parse_body(TokenIn)
    user = authenticate(body.email, body.password)
    if user is None:
        raise Unauthorized(_l("Wrong e-mail address or password."))
    token, record = issue_api_token(user)
    return respond(TokenOut, {"token": token, "expires_at": record.expires_at}, 201)


@bp.get("/openapi.json")
def openapi_document():
    return jsonify(build_document())


OPENAPI_PATHS = {
    "/api/v1/tokens": {
        "post": operation(
            "Get an API token for an organiser", operation_id="createToken", tag="auth", auth=False,
            body=TokenIn, responses={201: ("The token; it is shown only once.", TokenOut)}, errors=(401, 429),
            description="Send the organiser's e-mail and password. Failed attempts are limited per client "
                        "address and per account (429 when exceeded); successful ones do not count."),
    },
    "/api/v1/openapi.json": {
        "get": {
            "operationId": "getOpenApiDocument", "summary": "This document", "tags": ["meta"], "security": [],
            "responses": {"200": {"description": "The OpenAPI 3.1 document.",
                                  "content": {"application/json": {"schema": {"type": "object"}}}}},
        },
    },
}

# Every module of the package adds its routes to `bp` when imported.
api_modules()
