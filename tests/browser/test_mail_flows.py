"""What arrives by e-mail, followed in the browser: a forgotten password reset from the link the test SMTP server
received, and an offer whose e-mail link opens the offer (issue 12's Done-when)."""
from __future__ import annotations

import re
import sqlite3
import time
from datetime import date, timedelta

import pytest
from aiosmtpd.controller import Controller

from tests.auth.test_password_reset import Inbox
from tests.browser.conftest import demo_portal, free_port
from tests.browser.test_pages import DEMO_PASSWORD, sign_in, sign_out

NEW_PASSWORD = "harbour-crane-blue-27"


@pytest.fixture(scope="module")
def mailing_portal(tmp_path_factory):
    """The portal as users get it (gunicorn, CSRF on, demo data), sending e-mail through a real SMTP server."""
    inbox, smtp_port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    var = tmp_path_factory.mktemp("mail-portal")
    # The server sends through the test's SMTP server; the demo seed did not (its notices stay in the outbox).
    with demo_portal(var, {"ACADEMY_MAIL_SERVER": "127.0.0.1", "ACADEMY_MAIL_PORT": str(smtp_port)}) as url:
        yield url, inbox, var / "portal.sqlite"
    controller.stop()


def _mail_to(inbox: Inbox, address: str, seconds: float = 20.0):
    """Wait for a message to this address (the portal sends after its answer, from a thread); return the latest."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if mine := [m for m in inbox.messages if m["To"] == address]:
            return mine[-1]
        time.sleep(0.1)
    raise AssertionError(f"no e-mail to {address}")


def _body(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


@pytest.mark.browser
def test_a_trainee_resets_a_forgotten_password_from_the_e_mail(page, mailing_portal, screenshot_dir):
    url, inbox, _db = mailing_portal
    page.goto(url + "/login")
    page.click("[data-test=forgot]")
    page.fill("input[name=email]", "bada.kim@academy.test")  # no account: same answer, no mail
    page.click("main button[type=submit].primary")
    answer_for_nobody = page.inner_text("main")
    trainee = "trainee001@academy.test"
    page.goto(url + "/forgot")
    page.fill("input[name=email]", trainee)
    page.click("main button[type=submit].primary")
    assert page.inner_text("main") == answer_for_nobody  # nothing tells whether the address has an account
    message = _mail_to(inbox, trainee)
    link = re.search(r"https?://\S+/reset/\S+", _body(message)).group(0)
    assert link.startswith(url)
    page.goto(link)
    page.fill("input[name=new]", NEW_PASSWORD)
    page.fill("input[name=repeat]", NEW_PASSWORD)
    if screenshot_dir:
        page.screenshot(path=str(screenshot_dir / "mail-reset-password-phone.png"), full_page=True)
    page.click("main button[type=submit].primary")
    page.wait_for_url("**/login")
    page.fill("input[name=email]", trainee)
    page.fill("input[name=password]", NEW_PASSWORD)
    page.click("button[type=submit].primary")
    page.locator("[data-test=home-title]").wait_for()
    page.goto(link)  # used once: dead now, no form to set a password with
    assert page.locator("input[name=new]").count() == 0
    assert not any(m["To"] == "bada.kim@academy.test" for m in inbox.messages)


@pytest.mark.browser
def test_an_offer_e_mail_arrives_and_its_link_opens_the_offer(page, mailing_portal, screenshot_dir):
    url, inbox, database = mailing_portal
    with sqlite3.connect(database) as db:
        # The published round, a demand in it with a place left, and a consenting trainee with no offer standing
        # (the demo's offers went to the matched trainees); the recruiter is one of that demand's company.
        round_id, demand_id, student_id, trainee_email, trainee_name, company_id = db.execute(
            "SELECT c.round_id, c.demand_id, c.student_id, u.email, u.name, d.company_id FROM placement_consents c "
            "JOIN match_rounds r ON r.id = c.round_id JOIN demands d ON d.id = c.demand_id "
            "JOIN users u ON u.id = c.student_id "
            "WHERE r.status = 'published' AND c.withdrawn_at IS NULL "
            "AND NOT EXISTS (SELECT 1 FROM placements p WHERE p.demand_id = c.demand_id) "  # a place left
            "AND NOT EXISTS (SELECT 1 FROM offers o WHERE o.student_id = c.student_id AND o.status IN ('open', 'accepted')) "
            "AND NOT EXISTS (SELECT 1 FROM placements p WHERE p.student_id = c.student_id) "
            "ORDER BY c.id LIMIT 1").fetchone()
        [recruiter_email] = db.execute("SELECT email FROM users WHERE role = 'recruiter' AND company_id = ? "
                                       "ORDER BY id LIMIT 1", (company_id,)).fetchone()
    sign_in(page, url, recruiter_email)
    page.goto(f"{url}/company/demands/{demand_id}/rounds/{round_id}/shortlist")
    page.select_option("select[name=student_id]", str(student_id))
    page.fill("input[name=deadline]", (date.today() + timedelta(days=7)).isoformat())
    page.click("form[action$='/offers'] button.primary")
    page.wait_for_load_state()
    assert trainee_name in page.inner_text("[data-test=offers]")
    sign_out(page)

    message = _mail_to(inbox, trainee_email)
    body = _body(message)
    link = re.search(rf"{re.escape(url)}\S+", body).group(0)
    assert link == f"{url}/my/placement"
    page.goto(link)  # signed out: the link asks to sign in, then opens the offer
    page.fill("input[name=email]", trainee_email)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_url("**/my/placement")
    main = page.inner_text("main")
    assert "수락" in main and "거절" in main  # the open offer with its answers
    if screenshot_dir:
        page.screenshot(path=str(screenshot_dir / "mail-offer-link-phone.png"), full_page=True)
