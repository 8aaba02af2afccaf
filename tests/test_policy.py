"""The access policy walk: every route declares its roles, and every other role is refused."""
from __future__ import annotations

import pytest
from werkzeug.routing import IntegerConverter, Rule

from academy.audit.models import AuditEntry
from academy.extensions import db
from academy.policy import PUBLIC, TOKEN, Role, allow, policy_of, roles_allowed


def _url(app, rule: Rule) -> str:
    values = {}
    for arg in rule.arguments:
        converter = rule._converters[arg]  # noqa: SLF001
        name = converter.__class__.__name__
        if isinstance(converter, IntegerConverter):  # ids use academy.errors.IdConverter, a bounded one
            values[arg] = 1
        elif name == "AnyConverter":
            values[arg] = sorted(converter.items)[0]
        else:
            values[arg] = "x"
    with app.test_request_context():
        return app.url_for(rule.endpoint, **values)


def _method(rule: Rule) -> str:
    return "GET" if "GET" in rule.methods else sorted(rule.methods - {"HEAD", "OPTIONS"})[0]


def test_every_route_declares_a_policy(app):
    missing = [
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static" and policy_of(app.view_functions[rule.endpoint]) is None
    ]
    assert missing == [], f"routes without an access policy: {missing}"


def test_every_role_outside_a_policy_is_refused(app, make, auth):
    """Every route refuses every role outside its policy, and each refusal is in the audit log.

    Checked: the audit count fails when the after-request hook (academy.audit.services.record_refusal)
    is not installed.
    """
    users = {role: make.user(str(role)) for role in Role}

    db.session.commit()
    checked = 0
    for role, user in users.items():
        client = app.test_client()
        client.post("/login", data={"email": user.email, "password": "correct-horse-battery-staple"})
        for rule in app.url_map.iter_rules():
            if rule.endpoint == "static":
                continue
            policy = policy_of(app.view_functions[rule.endpoint])
            if PUBLIC in policy or TOKEN in policy or role in roles_allowed(policy):
                continue
            response = client.open(_url(app, rule), method=_method(rule))
            assert response.status_code == 403, f"{role} reached {rule.rule}: {response.status_code}"
            checked += 1
    assert checked > 0

    denied = db.session.scalars(db.select(AuditEntry).where(AuditEntry.action == "access.denied")).all()
    assert len(denied) == checked
    assert all(entry.actor_id is not None and '"reason": "role"' in entry.detail for entry in denied)


def test_anonymous_visitors_are_sent_to_login(app):
    client = app.test_client()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        policy = policy_of(app.view_functions[rule.endpoint])
        if PUBLIC in policy or TOKEN in policy:
            continue
        response = client.open(_url(app, rule), method=_method(rule))
        if rule.rule.startswith("/api/"):
            assert response.status_code == 401, rule.rule
        else:
            assert response.status_code == 302 and "/login" in response.headers["Location"], rule.rule


def test_a_view_without_policy_fails_closed(app, make, auth):
    @app.get("/forgotten")
    def forgotten():
        return "should never be served"

    auth.login(make.user("admin"))
    assert app.test_client().get("/forgotten").status_code == 403
    assert auth.client.get("/forgotten").status_code == 403


def test_unknown_policy_entries_are_rejected_at_import():
    with pytest.raises(ValueError):
        allow("superuser")
