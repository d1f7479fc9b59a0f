"""The JSON API under /api/v1: the blueprint, API tokens and the OpenAPI document.

Routes live in the modules of this package (events.py, registrations.py, …),
all on this one blueprint; importing this module imports them all (see the
end of the file and the convention in openapi.py).
"""
from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request
from flask_babel import lazy_gettext as _l

from ..auth.models import ApiToken
from ..auth.services import issue_api_token, list_api_tokens, log_in, revoke_api_token
from ..errors import Unauthorized
from ..extensions import limiter
from ..security import failed_login
from .common import ID, api_user, parse_body, respond
from .openapi import api_modules, build_document, operation, path_param
from .schemas import TokenIn, TokenInfo, TokenList, TokenOut

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
def create_token():
    # Per client address here; per account (e-mail tried) in the database, by log_in.
    body = parse_body(TokenIn)
    user = log_in(body.email, body.password)
    if user is None:
        raise Unauthorized(_l("Wrong e-mail address or password."))
    token, record = issue_api_token(user, body.name or "")
    return respond(TokenOut, {"id": record.id, "name": record.name, "token": token,
                              "expires_at": record.expires_at}, 201)


def _token_info(record: ApiToken) -> dict:
    current = getattr(g, "api_token", None)
    return {"id": record.id, "name": record.name, "created_at": record.created_at, "expires_at": record.expires_at,
            "last_used_at": record.last_used_at, "revoked_at": record.revoked_at,
            "current": current is not None and current.id == record.id}


@bp.get("/tokens")
def tokens_list():
    user = api_user()
    return respond(TokenList, {"tokens": [_token_info(record) for record in list_api_tokens(user)]})


@bp.delete("/tokens/current")
def token_revoke_current():
    user = api_user()
    return respond(TokenInfo, _token_info(revoke_api_token(user, g.api_token.id)))


@bp.delete(f"/tokens/<{ID}:token_id>")
def token_revoke(token_id: int):
    user = api_user()
    return respond(TokenInfo, _token_info(revoke_api_token(user, token_id)))


@bp.get("/openapi.json")
def openapi_document():
    return jsonify(build_document())


OPENAPI_PATHS = {
    "/api/v1/tokens": {
        "post": operation(
            "Get an API token for an organiser", operation_id="createToken", tag="auth", auth=False,
            body=TokenIn, responses={201: ("The token; it is shown only once.", TokenOut)}, errors=(401, 409, 429),
            description="Send the organiser's e-mail and password. Failed attempts are limited per client "
                        "address and per account (429 with Retry-After when exceeded; the account's limit holds "
                        "for every address); successful ones do not count. 409 `too_many_tokens` when the "
                        "organiser already has MAX_LIVE_API_TOKENS live tokens: revoke one first."),
        "get": operation(
            "List the organiser's live tokens", operation_id="listTokens", tag="auth",
            responses={200: ("Unexpired, unrevoked tokens, newest first (never the tokens themselves).", TokenList)}),
    },
    "/api/v1/tokens/current": {
        "delete": operation(
            "Revoke the token this request is sent with", operation_id="revokeCurrentToken", tag="auth",
            responses={200: ("The revoked token; it no longer works.", TokenInfo)},
            description="Log a program out: the token stops working at once, everywhere."),
    },
    "/api/v1/tokens/{token_id}": {
        "delete": operation(
            "Revoke one of the organiser's tokens", operation_id="revokeToken", tag="auth",
            parameters=[path_param("token_id", "The token's id (from the list or from creating it).")],
            responses={200: ("The revoked token; it no longer works.", TokenInfo)},
            description="Another organiser's token is not found. Revoking a revoked token changes nothing."),
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
