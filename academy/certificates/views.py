"""Certificates of completion: the office's rule and issuing pages, the trainee's downloads, public verification."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, Response, abort, current_app, render_template, request
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy.orm import contains_eager

from academy.audit.services import record, record_view
from academy.auth.models import User
from academy.certificates import services
from academy.certificates.forms import ActionForm, AttendanceForm, RevokeForm, RuleForm
from academy.certificates.models import Certificate
from academy.certificates.pdf import FontMissing, render_pdf
from academy.extensions import db, limiter
from academy.listing import paginate
from academy.policy import PUBLIC, Role, allow
from academy.transactions import done, refused, report
from academy.universities.models import Cohort, University
from academy.validators import refuse_form

bp = Blueprint("certificates", __name__)
# Cohorts on one page of the office's list: each one's counts weigh every grade of its trainees.
COHORTS_PER_PAGE = 10


@bp.get("/admin/certificates")
@allow(Role.ADMIN)
def office():
    """Show the completion rule, how many of each cohort's trainees meet it (a page of cohorts, newest first),
    and the certificates issued last; a cohort's page names them."""
    listing = paginate(
        sa.select(Cohort).join(Cohort.university).options(contains_eager(Cohort.university)),
        sortable={"year": Cohort.year}, default_sort="year", default_direction="desc",
        then=(Cohort.name, Cohort.id), size=COHORTS_PER_PAGE,
        searchable=[Cohort.name, University.code, University.name_ko, University.name_en],
    )
    counts = services.cohort_counts([c.id for c in listing.items])
    return render_template("certificates/office.html", rule=services.get_rule(), listing=listing, counts=counts,
                           empty=services.CohortCounts(), certificates=services.recent_certificates())


@bp.route("/admin/certificates/rule", methods=["GET", "POST"])
@allow(Role.ADMIN)
def edit_rule():
    """Edit the completion rule (audited)."""
    form = RuleForm(obj=services.get_rule())
    if form.validate_on_submit():
        try:
            services.update_rule(current_user, **{k: form[k].data for k in services.DEFAULT_RULE})
        except services.CertificateError as exc:
            report(exc)
        else:
            return done(_("Completion rule saved."), "certificates.office")
    return render_template("certificates/rule_form.html", form=form), 400 if request.method == "POST" else 200


@bp.get("/admin/certificates/cohorts/<int:cohort_id>")
@allow(Role.ADMIN)
def cohort(cohort_id: int):
    """List a cohort's trainees against the rule: courses passed, attendance, what each lacks, their certificate."""
    cohort = db.get_or_404(Cohort, cohort_id)
    standings = services.cohort_standings(cohort)
    record("certificates.cohort_viewed", obj=cohort, detail={"trainees": len(standings)}, kept=True)
    return render_template("certificates/cohort.html", cohort=cohort, standings=standings,
                           courses=services.cohort_courses(cohort), rule=services.get_rule(),
                           attendance_form=AttendanceForm(), action=ActionForm())


def _cohort_and_trainee(cohort_id: int, student_id: int) -> tuple[Cohort, User]:
    return db.get_or_404(Cohort, cohort_id), db.get_or_404(User, student_id)


@bp.post("/admin/certificates/cohorts/<int:cohort_id>/trainees/<int:student_id>/attendance")
@allow(Role.ADMIN)
def set_attendance(cohort_id: int, student_id: int):
    """Record a trainee's attendance of the cohort."""
    cohort, trainee = _cohort_and_trainee(cohort_id, student_id)
    form = AttendanceForm()
    if not form.validate_on_submit():
        refuse_form(form)
    try:
        services.set_attendance(cohort, trainee, form.percent.data, current_user)
    except services.CertificateError as exc:
        return refused(exc, "certificates.cohort", cohort_id=cohort_id)
    return done(_("Attendance saved."), "certificates.cohort", cohort_id=cohort_id)


@bp.post("/admin/certificates/cohorts/<int:cohort_id>/trainees/<int:student_id>/issue")
@allow(Role.ADMIN)
def issue(cohort_id: int, student_id: int):
    """Issue one trainee's certificate; refused, saying what they lack, when they do not meet the rule."""
    cohort, trainee = _cohort_and_trainee(cohort_id, student_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        certificate = services.issue_certificate(cohort, trainee, current_user)
    except services.CertificateError as exc:
        return refused(exc, "certificates.cohort", cohort_id=cohort_id)
    return done(_("Certificate %(serial)s issued.", serial=certificate.serial), "certificates.detail",
                certificate_id=certificate.id)


@bp.post("/admin/certificates/cohorts/<int:cohort_id>/issue")
@allow(Role.ADMIN)
def issue_all(cohort_id: int):
    """Issue a certificate to every trainee of the cohort who meets the rule and holds none yet."""
    cohort = db.get_or_404(Cohort, cohort_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    issued = services.issue_for_cohort(cohort, current_user)
    return done(ngettext("%(num)d certificate issued.", "%(num)d certificates issued.", len(issued)),
                "certificates.cohort", cohort_id=cohort_id)


@bp.get("/admin/certificates/<int:certificate_id>")
@allow(Role.ADMIN)
def detail(certificate_id: int):
    """Show a certificate as issued, its verification address, and the form to revoke it."""
    certificate = db.get_or_404(Certificate, certificate_id)
    record_view(certificate.student_id, "certificate")
    return render_template("certificates/detail.html", certificate=certificate,
                           url=services.verify_url(certificate), form=RevokeForm())


@bp.post("/admin/certificates/<int:certificate_id>/revoke")
@allow(Role.ADMIN)
def revoke(certificate_id: int):
    """Revoke a certificate with a reason; its verification page says so at once."""
    certificate = db.get_or_404(Certificate, certificate_id)
    form = RevokeForm()
    if not form.validate_on_submit():
        refuse_form(form)
    try:
        services.revoke_certificate(certificate, form.reason.data, current_user)
    except services.CertificateError as exc:
        return refused(exc, "certificates.detail", certificate_id=certificate_id)
    return done(_("Certificate %(serial)s revoked.", serial=certificate.serial), "certificates.detail",
                certificate_id=certificate_id)


def _pdf(certificate: Certificate) -> Response:
    try:
        body = render_pdf(certificate, services.verify_url(certificate))
    except FontMissing as exc:
        current_app.logger.error("certificate %s not drawn: %s", certificate.serial, exc)
        abort(503, description=_("The certificate cannot be drawn: the Korean font is not installed on the server."))
    return Response(body, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="certificate-{certificate.serial}.pdf"',
        "Cache-Control": "no-store"})


@bp.get("/admin/certificates/<int:certificate_id>/certificate.pdf")
@allow(Role.ADMIN)
def office_pdf(certificate_id: int):
    """Download a certificate's PDF (the office's copy)."""
    certificate = db.get_or_404(Certificate, certificate_id)
    record_view(certificate.student_id, "certificate.pdf")
    return _pdf(certificate)


@bp.get("/my/certificates")
@allow(Role.STUDENT)
def mine():
    """List my certificates with their downloads and verification addresses."""
    certificates = services.certificates_of(current_user)
    return render_template("certificates/mine.html", certificates=[(c, services.verify_url(c)) for c in certificates])


@bp.get("/my/certificates/<int:certificate_id>/certificate.pdf")
@allow(Role.STUDENT)
def my_pdf(certificate_id: int):
    """Download my certificate; anyone else's answers like one that does not exist, a revoked one is gone."""
    certificate = db.session.get(Certificate, certificate_id)
    if certificate is None or certificate.student_id != current_user.id:
        abort(404)
    if not certificate.is_valid:
        abort(410)
    return _pdf(certificate)


@bp.get("/verify/<public_id>")
@allow(PUBLIC)
@limiter.limit(lambda: current_app.config["VERIFY_RATE_LIMIT"])
def verify(public_id: str):
    """Say whether a certificate is valid, with its holder's name and date of issue, and nothing more."""
    certificate = services.get_certificate_by_public_id(public_id)
    response = Response(render_template("certificates/verify.html", certificate=certificate),
                        status=200 if certificate else 404)
    response.headers["Cache-Control"] = "no-store"  # a revocation shows at once, never from a cache
    response.headers["X-Robots-Tag"] = "noindex"
    return response
