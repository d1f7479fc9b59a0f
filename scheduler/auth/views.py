from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from ..errors import TooManyAttempts, ValidationFailed
from ..extensions import db, limiter
from ..security import failed_login, safe_next
from .models import User
from .accounts import LinkNotUsable, request_password_reset, use_link, usable_link
from .passwords import verify_password
from .services import (TooManyTokens, end_all_sessions, issue_api_token, list_api_tokens, log_in, revoke_api_token,
                       set_password)

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


class PasswordChangeForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=200)])
    password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=200)],
                             description=_l("At least 10 characters. Not a common password, a name or your e-mail "
                                            "address; a few unrelated words are easy to remember and hard to guess."))
    repeat = PasswordField(_l("New password again"), validators=[DataRequired(), Length(max=200)])


class ResetRequestForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])


class NewPasswordForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=200)],
                             description=PasswordChangeForm.password.kwargs["description"])
    repeat = PasswordField(_l("New password again"), validators=[DataRequired(), Length(max=200)])


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
    return render_template("auth/login.html", form=form, first_start=_no_accounts_yet()), \
        (422 if form.errors else 200)


def _no_accounts_yet() -> bool:
    # A fresh install without demo data: the page says how to make the first organisation and account.
    return db.session.execute(select(User.id).limit(1)).first() is None


@bp.post("/logout")
@login_required
def logout():
    # Ends this user's every session, so a copied session cookie stops working too.
    end_all_sessions(current_user._get_current_object())
    logout_user()
    session.pop("session_version", None)
    flash(_("You have been logged out."))
    return redirect(url_for("web.home"))


# --- password ------------------------------------------------------------------

@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def password():
    form = PasswordChangeForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        if not verify_password(user.password_hash, form.current.data)[0]:
            form.current.errors.append(_("This is not your current password."))
        elif form.password.data != form.repeat.data:
            form.repeat.errors.append(_("The two new passwords differ."))
        else:
            try:
                set_password(user, form.password.data)
            except ValidationFailed as exc:
                form.password.errors.extend(exc.fields.values())
            else:
                # Every other session ended with the change; this one goes on under the new number.
                session["session_version"] = user.session_version
                flash(_("Your password is changed. You were logged out in every other browser, and your API "
                        "tokens were revoked."))
                return redirect(url_for("events.dashboard"), 303)
    return render_template("auth/password.html", form=form), (422 if form.errors else 200)


# --- forgotten password, invitations: one-time links --------------------------------

@bp.route("/account/reset", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["PASSWORD_RESET_RATE_LIMIT"], methods=["POST"])
def reset():
    form = ResetRequestForm()
    if form.validate_on_submit():
        request_password_reset(form.email.data)
        # The same answer whether or not an account has this address: the page tells nobody who has one.
        return render_template("auth/reset_sent.html", email=form.email.data)
    return render_template("auth/reset.html", form=form), (422 if form.errors else 200)


@bp.route("/account/set-password/<token>", methods=["GET", "POST"], endpoint="set_password")
def set_password_page(token: str):
    try:
        link = usable_link(token)
    except LinkNotUsable as exc:
        return render_template("auth/link_not_usable.html", message=exc.message), exc.status
    form = NewPasswordForm()
    if form.validate_on_submit():
        if form.password.data != form.repeat.data:
            form.repeat.errors.append(_("The two new passwords differ."))
        else:
            try:
                user = use_link(token, form.password.data)
            except ValidationFailed as exc:
                db.session.rollback()
                form.password.errors.extend(exc.fields.values())
            except LinkNotUsable as exc:
                return render_template("auth/link_not_usable.html", message=exc.message), exc.status
            else:
                login_user(user)
                session["session_version"] = user.session_version
                flash(_("Your password is set. You are logged in."))
                return redirect(url_for("events.dashboard"), 303)
    response = current_app.make_response((render_template("auth/set_password.html", form=form, link=link),
                                          422 if form.errors else 200))
    # The page's address is the secret: keep it out of caches and of the Referer of anything it loads.
    response.headers["Cache-Control"] = "no-store"
    return response


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
