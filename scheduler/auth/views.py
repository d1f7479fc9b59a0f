from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from ..errors import TooManyAttempts, ValidationFailed
from ..extensions import limiter
from ..security import failed_login, safe_next
from .services import TooManyTokens, end_all_sessions, issue_api_token, list_api_tokens, log_in, revoke_api_token

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


class TokenForm(FlaskForm):
    name = StringField(_l("Name"), validators=[Length(max=100)],
                       description=_l("What the token is for, e.g. “export to the reporting spreadsheet”."))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"], deduct_when=failed_login)
def login():
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = log_in(form.email.data, form.password.data)
        except TooManyAttempts as exc:
            form.password.errors.append(str(exc.message))
            return render_template("auth/login.html", form=form), exc.status, exc.headers
        if user is not None:
            login_user(user)
            session["session_version"] = user.session_version
            return redirect(safe_next(request.args.get("next"), url_for("events.dashboard")))
        form.password.errors.append(_("Wrong e-mail or password."))
    return render_template("auth/login.html", form=form), (422 if form.errors else 200)


@bp.post("/logout")
@login_required
def logout():
    # Ends this user's every session, so a copied session cookie stops working too.
    end_all_sessions(current_user._get_current_object())
    logout_user()
    session.pop("session_version", None)
    flash(_("You have been logged out."))
    return redirect(url_for("web.home"))


# --- API tokens ----------------------------------------------------------------

def _tokens_page(form: TokenForm, *, new_token: str | None = None, problem=None, status: int = 200):
    return render_template("auth/tokens.html", form=form, tokens=list_api_tokens(current_user), problem=problem,
                           new_token=new_token, limit=current_app.config["MAX_LIVE_API_TOKENS"]), status


@bp.get("/account/tokens")
@login_required
def tokens():
    return _tokens_page(TokenForm())


@bp.post("/account/tokens")
@login_required
def token_create():
    form = TokenForm()
    if not form.validate_on_submit():
        return _tokens_page(form, status=422)
    try:
        token, _record = issue_api_token(current_user, form.name.data or "")
    except ValidationFailed as exc:
        form.name.errors.extend(str(message) for message in exc.fields.values())
        return _tokens_page(form, status=422)
    except TooManyTokens as exc:
        return _tokens_page(form, problem=exc.message, status=exc.status)
    # Shown on this response only: nothing stores the token itself, and a reload does not show it again.
    response = current_app.make_response(_tokens_page(TokenForm(formdata=None), new_token=token))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/account/tokens/<int(max=2147483647):token_id>/revoke")
@login_required
def token_revoke(token_id: int):
    record = revoke_api_token(current_user, token_id)
    flash(_("The token “%(name)s” is revoked; programs using it no longer have access.",
            name=record.name or _("(no name)")))
    return redirect(url_for("auth.tokens"), 303)
