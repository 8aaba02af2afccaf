"""The privacy policy (public), consent to it, a person's privacy requests, and the office's answers."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from academy.audit.services import record_view
from academy.extensions import db
from academy.policy import AUTHENTICATED, PUBLIC, TOKEN, Role, allow, policy_of
from academy.privacy import services
from academy.privacy.forms import AnswerForm, ConsentForm, OptionalForm, RequestForm
from academy.privacy.models import PrivacyRequest
from academy.transactions import done, refused
from academy.util import safe_next

bp = Blueprint("privacy", __name__)
SESSION_KEY = "privacy_consented"  # the policy version this sign-in has been checked against
# Pages a person who has yet to consent may still use: the policy itself, signing out, the language.
OPEN_ENDPOINTS = frozenset({"static", "auth.logout", "auth.set_language", "auth.login"})


@bp.before_app_request
def ask_for_consent():
    """Send a trainee or recruiter who has not consented to the current policy to the consent page first."""
    if not current_user.is_authenticated or request.endpoint is None:
        return None
    if request.endpoint in OPEN_ENDPOINTS or request.endpoint.startswith("privacy."):
        return None
    view = current_app.view_functions.get(request.endpoint)
    policy = policy_of(view) if view else None
    if policy is None or PUBLIC in policy or TOKEN in policy:
        return None
    if session.get(SESSION_KEY) == services.POLICY_VERSION:
        return None
    if not services.must_consent(current_user):
        session[SESSION_KEY] = services.POLICY_VERSION
        return None
    if request.method != "GET" or request.path.startswith("/api/"):
        abort(403)
    return redirect(url_for("privacy.consent", next=request.full_path.rstrip("?")))


@bp.get("/privacy")
@allow(PUBLIC)
def policy():
    """Show the privacy policy: what is collected, why, for how long, who receives it, and how to use your rights."""
    language = "ko" if str(get_locale()) == "ko" else "en"
    return render_template("privacy/policy.html", language=language, version=services.POLICY_VERSION,
                           optional=services.OPTIONAL, officer=_officer())


def _officer() -> dict[str, str]:
    config = current_app.config
    return {"name": config["PRIVACY_OFFICER_NAME"], "email": config["PRIVACY_OFFICER_EMAIL"],
            "phone": config["PRIVACY_OFFICER_PHONE"]}


@bp.route("/privacy/consent", methods=["GET", "POST"])
@allow(AUTHENTICATED)
def consent():
    """Ask for consent to the current policy (a new version, or an account made for the person)."""
    target = safe_next(request.values.get("next")) or url_for("home.index")
    if not services.must_consent(current_user):
        return redirect(target)
    form = ConsentForm(next=target)
    if form.validate_on_submit():
        services.give_consents(current_user, form.optional_given())
        session[SESSION_KEY] = services.POLICY_VERSION
        flash(_("Thank you. Your consent is recorded."), "success")
        return redirect(target)
    return render_template("privacy/consent.html", form=form, version=services.POLICY_VERSION,
                           renewed=bool(services.consent_history(current_user)))


@bp.get("/my/privacy")
@allow(Role.STUDENT, Role.RECRUITER)
def mine():
    """Show my consents and my privacy requests, and let me change the optional ones or make a request."""
    return _mine_page(RequestForm())


def _mine_page(form: RequestForm):
    """The privacy page: 200 to read it, 400 when a posted request is refused (the form says why)."""
    page = render_template("privacy/mine.html", choices=services.optional_choices(current_user),
                           optional=services.OPTIONAL, history=services.consent_history(current_user),
                           requests=services.own_requests(current_user), kinds=services.REQUEST_KINDS,
                           form=form, due_at=services.due_at)
    return page, 400 if request.method == "POST" else 200


@bp.post("/my/privacy/optional")
@allow(Role.STUDENT, Role.RECRUITER)
def change_optional():
    """Give or withdraw one optional consent."""
    form = OptionalForm()
    if not form.validate_on_submit():
        abort(400)
    services.set_optional(current_user, form.purpose.data, form.given.data == "1")
    return done(_("Your choice is recorded, with effect from now."), "privacy.mine")


@bp.post("/my/privacy/requests")
@allow(Role.STUDENT, Role.RECRUITER)
def file_request():
    """Make a request about my own data; the office answers within 10 days."""
    form = RequestForm()
    if not form.validate_on_submit():
        return _mine_page(form)
    services.file_request(current_user, form.kind.data, form.details.data or "")
    return done(_("Your request is recorded. The academy office answers within 10 days, here."), "privacy.mine")


@bp.get("/office/privacy-requests")
@allow(Role.ADMIN)
def requests():
    """List the privacy requests to answer, oldest first, and the last ones answered."""
    return render_template("privacy/requests.html", open_requests=services.requests_to_answer(),
                           answered=services.answered_requests(), kinds=services.REQUEST_KINDS,
                           due_at=services.due_at)


@bp.route("/office/privacy-requests/<int:request_id>", methods=["GET", "POST"])
@allow(Role.ADMIN)
def answer(request_id: int):
    """Show one request with the person's account, and answer it."""
    privacy_request = db.get_or_404(PrivacyRequest, request_id)
    record_view(privacy_request.user_id, "privacy_request")
    form = AnswerForm()
    if form.validate_on_submit():
        try:
            services.answer_request(privacy_request, current_user, form.status.data, form.answer.data)
        except services.PrivacyError as exc:
            return refused(exc, "privacy.answer", request_id=request_id)
        return done(_("The answer is recorded; the person sees it on their privacy page."), "privacy.requests")
    page = render_template("privacy/answer.html", item=privacy_request, form=form, kinds=services.REQUEST_KINDS,
                           due_at=services.due_at)
    return page, 400 if request.method == "POST" else 200
