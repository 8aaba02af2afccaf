"""Sign in, sign out, language, own password, and the academy office's account management."""
from __future__ import annotations

import time

import sqlalchemy as sa
from flask import (Blueprint, abort, current_app, flash, make_response, redirect, render_template, request, session,
                   url_for)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, logout_user

from academy.audit.services import note_refusal, record, refuse
from academy.auth import invitations, resets, services, sessions, throttle
from academy.auth.forms import ForgotForm, LoginForm, PasswordForm, RegisterForm, SetPasswordForm, UserForm
from academy.auth.models import Invitation, User
from academy.extensions import db, limiter
from academy.listing import paginate
from academy.policy import AUTHENTICATED, PUBLIC, Role, allow
from academy.privacy import services as consents
from academy.transactions import discard, report
from academy.util import safe_next, utcnow

bp = Blueprint("auth", __name__)


def _account_key() -> str:
    # The account the attempt names, normalised exactly as the sign-in looks it up, so no spelling
    # of an address escapes its count; any address counts the same, so the limit never tells
    # whether an account exists.
    return "account:" + (services.normalize_email(request.form.get("email", "")[:254]) or "-")


# Every attempt is counted before the password is checked, so simultaneous guesses cannot all slip
# under the limit; a successful sign-in gives its attempt back (academy.auth.throttle).
@bp.route("/login", methods=["GET", "POST"])
@allow(PUBLIC)
@limiter.limit(lambda: current_app.config["LOGIN_FAILURE_LIMIT"], methods=["POST"])
@limiter.limit(lambda: current_app.config["LOGIN_ACCOUNT_FAILURE_LIMIT"], methods=["POST"], key_func=_account_key)
def login():
    """Sign a user in with e-mail and password."""
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        user = services.authenticate(form.email.data, form.password.data)
        if user is None:
            record("auth.login_failed", detail={"email": form.email.data[:254]}, kept=True)  # the refusal's entry
            flash(_("E-mail or password is wrong."), "error")
            return render_template("auth/login.html", form=form), 401
        throttle.refund_attempt()
        sessions.sign_in(user)
        record("auth.login", subject_user_id=user.id)
        return redirect(safe_next(form.next.data) or url_for("home.index"))
    return render_template("auth/login.html", form=form)


@bp.errorhandler(429)
def _throttled(exc):
    """Answer a throttled sign-in or password change on its own page, saying how long the pause lasts."""
    if request.endpoint not in {"auth.login", "auth.password"}:
        return exc
    limit = limiter.current_limit
    seconds = max(1, int(limit.reset_at - time.time())) if limit is not None else 300
    minutes = -(-seconds // 60)
    if request.endpoint == "auth.password":
        flash(_("Too many wrong current passwords. Changing the password is paused for about %(minutes)d "
                "minutes.", minutes=minutes), "error")
        page = render_template("auth/password.html", form=PasswordForm(formdata=None))
    else:
        flash(_("Too many failed sign-ins for this account or from this address. Sign-in is paused for "
                "about %(minutes)d minutes: until then even the right password is refused.", minutes=minutes),
              "error")
        page = render_template("auth/login.html", form=LoginForm(formdata=None))
    response = make_response(page, 429)
    response.headers["Retry-After"] = str(seconds)
    return response


@bp.post("/logout")
@allow(AUTHENTICATED)
def logout():
    """Sign out: end this sign-in on the server and revoke the hub tokens issued through it."""
    row = sessions.current_session()
    revoked = sessions.end_session(row, "logout") if row is not None else 0
    record("auth.logout", subject_user_id=current_user.id, detail={"hub_tokens_revoked": revoked})
    lang = session.get("lang")
    logout_user()
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.post("/lang/<code>")
@allow(PUBLIC)
def set_language(code: str):
    """Switch the interface language (Korean or English)."""
    if code not in current_app.config["LANGUAGES"]:
        abort(404)
    session["lang"] = code
    if current_user.is_authenticated:
        current_user.locale = code
    return redirect(safe_next(request.form.get("next")) or url_for("home.index"))


@bp.route("/register", methods=["GET", "POST"])
@allow(PUBLIC)
@limiter.limit("20 per hour", methods=["POST"])
def register():
    """Let a prospective trainee create an account to apply to a cohort."""
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            user = services.register_account(form.email.data, form.name.data, Role.STUDENT, form.password.data)
            if user is not None:
                consents.give_consents(user, form.optional_given(), actor_id=user.id)
        except services.AccountError as exc:
            report(exc)
        else:
            # The same answer whether the address was free or already had an account (no sign-in either
            # way), so registering cannot tell anyone who has an account here.
            flash(_("Thank you. If this e-mail address had no account yet, your account is ready: sign in to "
                    "apply to a cohort. If it already had one, nothing was changed: sign in with that "
                    "account's password."), "success")
            return redirect(url_for("auth.login"))
    return render_template("auth/register.html", form=form)


def _own_account_key() -> str:
    return f"password-change:{getattr(current_user, 'id', None) or '-'}"


# Like sign-in, every attempt is counted before the current password is checked; only a wrong one keeps its count.
@bp.route("/account/password", methods=["GET", "POST"])
@allow(AUTHENTICATED)
@limiter.limit(lambda: current_app.config["PASSWORD_CHANGE_FAILURE_LIMIT"], methods=["POST"],
               key_func=_own_account_key)
def password():
    """Change one's own password (ends every other session and revokes the account's hub tokens)."""
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            services.change_password(current_user, form.current.data, form.new.data)
        except services.WrongPassword as exc:
            record("auth.password_change_failed", subject_user_id=current_user.id, kept=True)  # the refusal's entry
            form.current.errors.append(str(exc))
            return render_template("auth/password.html", form=form), 400
        except services.AccountError as exc:
            report(exc)
        else:
            throttle.refund_attempt()
            sessions.sign_in(current_user._get_current_object())  # every sign-in ended: begin this one again
            flash(_("Your password was changed."), "success")
            return redirect(url_for("home.index"))
    if request.method == "POST":
        throttle.refund_attempt()  # the current password was right, or not checked at all
    return render_template("auth/password.html", form=form)


# --- academy office: accounts -------------------------------------------------------------


def _user_form(form: UserForm) -> UserForm:
    from academy.companies.models import Company
    from academy.universities.models import University

    form.role.choices = [(r.value, r.value) for r in Role]
    form.university_id.choices = [(0, "—")] + [
        (u.id, u.name_ko) for u in db.session.scalars(db.select(University).order_by(University.name_ko))
    ]
    form.company_id.choices = [(0, "—")] + [
        (c.id, c.name) for c in db.session.scalars(db.select(Company).order_by(Company.name))
    ]
    return form


@bp.get("/admin/users")
@allow(Role.ADMIN)
def users():
    """List accounts, searchable by name or e-mail and filterable by role."""
    query = db.select(User)
    role = request.args.get("role")
    if role in set(Role):
        query = query.where(User.role == role)
    listing = paginate(
        query,
        sortable={"name": User.name, "email": User.email, "role": User.role, "created": User.created_at},
        default_sort="name",
        searchable=[User.name, User.email],
    )
    return render_template("auth/users.html", listing=listing, roles=list(Role))


@bp.route("/admin/users/new", methods=["GET", "POST"])
@allow(Role.ADMIN)
def new_user():
    """Create an account with a role; its person gets an invitation to set their own password."""
    form = _user_form(UserForm())
    if form.validate_on_submit():
        try:
            invitation = invitations.invite_account(
                form.email.data,
                form.name.data,
                form.role.data,
                university_id=form.university_id.data or None,
                company_id=form.company_id.data or None,
                created_by=current_user._get_current_object(),
            )
        except services.AccountError as exc:
            report(exc)
        except sa.exc.IntegrityError:  # the database's own rules (a coordinator needs a university...)
            discard()
            flash(_("A coordinator needs a university and a recruiter a company."), "error")
        else:
            flash(_invited_message(invitation), "success")
            return redirect(url_for("auth.users"))
    return render_template("auth/user_form.html", form=form)


def _invited_message(invitation: Invitation) -> str:
    """Say where the new link went: e-mailed, or waiting on the Invitations page to be handed out."""
    if invitations.mails_out():
        return _("Account created. %(email)s gets an e-mail with a link to set a password.",
                 email=invitation.user.email)
    return _("Account created. No mail server is configured: hand out the link to set a password from the "
             "Invitations page.")


@bp.post("/admin/users/<int:user_id>/enabled")
@allow(Role.ADMIN)
def toggle_user(user_id: int):
    """Enable or disable an account."""
    user = db.get_or_404(User, user_id)
    if user.id == current_user.id:
        abort(400)
    services.set_enabled(user, request.form.get("enabled") == "1")
    flash(_("Account updated."), "success")
    return redirect(url_for("auth.users"))


# --- invitations: imported trainees and new staff set their own password ---------------------------------


def _own_invitation(invitation_id: int) -> Invitation:
    """Load an invitation the signed-in office or coordinator may hand out, else 404."""
    invitation = db.session.get(Invitation, invitation_id)
    if invitation is None or (
        current_user.role == Role.COORDINATOR and invitation.university_id != current_user.university_id
    ):
        refuse(404, obj_type="invitation", obj_id=invitation_id,
               subject_user_id=invitation.user_id if invitation else None, reason="not_yours")
    return invitation


@bp.get("/invitations")
@allow(Role.COORDINATOR, Role.ADMIN)
def invitation_list():
    """List the invitations to hand out (the outbox), with each pending one's link."""
    university_id = current_user.university_id if current_user.role == Role.COORDINATOR else None
    query = invitations.outbox(university_id)
    if request.args.get("show") != "all":
        query = query.where(Invitation.used_at.is_(None))
    listing = paginate(
        query, sortable={"created": Invitation.created_at, "name": User.name, "email": User.email},
        default_sort="created", default_direction="desc", searchable=[User.name, User.email],
    )
    if listing.items:  # the links are credentials: who saw them, when, is kept
        record("invitations.viewed", detail={"count": len(listing.items), "page": listing.page})
    now = utcnow()
    rows = [(i, invitations.status(i, now)) for i in listing.items]
    mails = invitations.latest_mails(listing.items)
    # A link the mail server took is the person's alone: the office makes a new one rather than read it.
    links = {i.id: invitations.link(i) for i, state in rows
             if state == "pending" and (i.id not in mails or mails[i.id].sent_at is None)}
    return render_template("auth/invitations.html", listing=listing, rows=rows, links=links, mails=mails,
                           mails_out=invitations.mails_out())


@bp.post("/invitations/<int:invitation_id>/reissue")
@allow(Role.COORDINATOR, Role.ADMIN)
def reissue_invitation(invitation_id: int):
    """Give an invitation a new link and lifetime; the old link stops working."""
    invitation = _own_invitation(invitation_id)
    try:
        invitations.reissue(invitation)
    except invitations.InvitationError:
        flash(_("This person has already set a password."), "error")
    else:
        flash(_("New link made for %(name)s; the old one no longer works.", name=invitation.user.name), "success")
        if invitations.mails_out() and invitation.user.is_enabled:
            flash(_("The new link is being e-mailed to %(email)s.", email=invitation.user.email), "info")
    return redirect(url_for("auth.invitation_list"))


@bp.post("/invitations/<int:invitation_id>/sent")
@allow(Role.COORDINATOR, Role.ADMIN)
def invitation_sent(invitation_id: int):
    """Note that an invitation's link was handed to its person."""
    invitation = _own_invitation(invitation_id)
    invitations.mark_sent(invitation)
    return redirect(url_for("auth.invitation_list"))


INVITATION_MESSAGES = {
    "invalid": _l("This link is not valid. Ask your coordinator or the academy office for a new one."),
    "used": _l("This link has already been used: your password is set. Sign in with it, or ask your "
               "coordinator for a new link if you have forgotten it."),
    "expired": _l("This link has expired. Ask your coordinator or the academy office for a new one."),
}
INVITATION_STATUS = {"invalid": 404, "used": 410, "expired": 410}


def _link_refused(session_key: str, message: str, status: int):
    """Answer a set-your-password link that cannot be used: say why, and forget it (no referrer either)."""
    session.pop(session_key, None)
    response = make_response(render_template("auth/welcome_refused.html", message=message), status)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _link_to_session(session_key: str, token: str, endpoint: str):
    """Keep a checked link's token in the session and continue at endpoint, so it leaves the address bar."""
    session[session_key] = token[:500]
    response = redirect(url_for(endpoint))
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _invitation_refused(exc: invitations.InvitationError):
    invitation = exc.invitation
    note_refusal(obj_type="invitation", obj_id=invitation.id if invitation else None,
                 subject_user_id=invitation.user_id if invitation else None, reason=exc.reason)
    return _link_refused("invitation", INVITATION_MESSAGES[exc.reason], INVITATION_STATUS[exc.reason])


@bp.get("/welcome/<token>")
@allow(PUBLIC)
def welcome_link(token: str):
    """Check an invitation link, then continue at /welcome so the token leaves the address bar."""
    try:
        invitations.find_by_token(token[:500])
    except invitations.InvitationError as exc:
        return _invitation_refused(exc)
    return _link_to_session("invitation", token, "auth.welcome")


@bp.route("/welcome", methods=["GET", "POST"])
@allow(PUBLIC)
@limiter.limit("20 per hour", methods=["POST"])
def welcome():
    """Let an invited trainee or staff member set their own password, once."""
    try:
        invitation = invitations.find_by_token(session.get("invitation", ""))
    except invitations.InvitationError as exc:
        return _invitation_refused(exc)
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            invitations.accept(invitation, form.new.data)
        except services.AccountError as exc:
            discard()
            form.new.errors.append(str(exc))
        else:
            session.pop("invitation", None)
            flash(_("Your password is set. Sign in with your e-mail address and the new password."), "success")
            return redirect(url_for("auth.login"))
    return render_template("auth/welcome.html", form=form, user=invitation.user, expires_at=invitation.expires_at)


# --- forgot password: a link to the account's own address (academy/auth/resets.py) -----------------------------
RESET_MESSAGES = {
    "invalid": _l("This link is not valid. Ask for a new one on the sign-in page."),
    "used": _l("This link has already been used, or the password was changed since. Ask for a new one if you need it."),
    "expired": _l("This link has expired. Ask for a new one on the sign-in page."),
}
RESET_STATUS = {"invalid": 404, "used": 410, "expired": 410}


@bp.route("/forgot", methods=["GET", "POST"])
@allow(PUBLIC)
@limiter.limit(lambda: current_app.config.get("RESET_REQUEST_LIMIT", "5 per 15 minutes"), methods=["POST"])
def forgot():
    """Ask for a password-reset link; the answer is the same whether or not the address has an account."""
    form = ForgotForm()
    if form.validate_on_submit():
        resets.request_reset(form.email.data)
        return render_template("auth/forgot.html", form=form, sent=True)
    return render_template("auth/forgot.html", form=form, sent=False), 400 if request.method == "POST" else 200


def _reset_refused(exc: resets.ResetError):
    note_refusal(obj_type="password_reset", obj_id=None, subject_user_id=None, reason=exc.reason)
    return _link_refused("reset", RESET_MESSAGES[exc.reason], RESET_STATUS[exc.reason])


@bp.get("/reset/<token>")
@allow(PUBLIC)
def reset_link(token: str):
    """Check a reset link, then continue at /reset so the token leaves the address bar."""
    try:
        resets.find_by_token(token[:500])
    except resets.ResetError as exc:
        return _reset_refused(exc)
    return _link_to_session("reset", token, "auth.reset_password")


@bp.route("/reset", methods=["GET", "POST"])
@allow(PUBLIC)
@limiter.limit("20 per hour", methods=["POST"])
def reset_password():
    """Choose a new password with a reset link, once."""
    try:
        user = resets.find_by_token(session.get("reset", ""))
    except resets.ResetError as exc:
        return _reset_refused(exc)
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            resets.reset(user, form.new.data)
        except services.AccountError as exc:
            form.new.errors.append(str(exc))
        else:
            session.pop("reset", None)
            flash(_("Your password is set. Sign in with your e-mail address and the new password."), "success")
            return redirect(url_for("auth.login"))
    return render_template("auth/reset.html", form=form, user=user), 400 if request.method == "POST" else 200
