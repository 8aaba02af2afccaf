"""The machinery of the bad-input walk: signed-in clients per role, URLs filled with whose-id-is-it
values, hostile bodies, and one verdict per request.

Every request's answer is checked for two things: it is not a server error (status < 500 and nothing
logged with a traceback while it ran), and where the input was bad it is a clear 4xx.
"""
from __future__ import annotations

import base64
import itertools
import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import quote

from flask import Flask
from werkzeug.datastructures import ImmutableMultiDict, MultiDict
from werkzeug.routing import IntegerConverter, Rule

from academy.extensions import db
from academy.grading.report import TOKEN_HEADER
from academy.policy import AUTHENTICATED, PUBLIC, TOKEN, Role, policy_of
from tests.walker import forms as F
from tests.walker.world import CERTIFICATE_PUBLIC_ID, HUB_CLIENT_SECRET, MISSING, PASSWORD, World, build_world

ANONYMOUS = "anonymous"
ROLES = (ANONYMOUS, *(str(r) for r in Role))
# What "a clear refusal" may be: bad request, unauthenticated, forbidden, not found, wrong method,
# conflict, gone (a used invitation), too large, wrong media type, unprocessable, throttled.
CLEAR_4XX = frozenset({400, 401, 403, 404, 405, 409, 410, 413, 415, 422, 429})
# Ids the integer converter may be handed: zero, negative, past a 32-bit column, past a 64-bit integer.
ODD_INTS = ("0", "-1", "2147483648", "9223372036854775808", "1" + "0" * 40, "7" * 5000)
ODD_STRINGS = ("x" * 2000, "한글🙂\u202e", "..%2F..%2F..%2Fetc%2Fpasswd", "%00", "<script>")
STRING_POOLS = {
    # converter name -> (own values, someone else's, missing)
    "code": (["ko", "en"], [], ["fr"]),
    "answer": (["accept", "decline"], [], []),  # any other word matches no route: an odd value
    "public_id": ([CERTIFICATE_PUBLIC_ID], [], ["walker-certificate-z-0123456789a"]),
    "name": ([], [], ["0" * 64, "planted"]),  # a chart's name (academy/charts.py): the walk knows none drawn
}
QUERY_VALUES = ("x" * 10_000, "walker\x00nul", "한글🙂\u202e", "-1", "0", F.HUGE, "abc", "NaN", "../../etc/passwd")
JSON_BODIES = (b"", b"not json", b"{", b"[]", b"[1, 2]", b'"a string"', b"42", b"null", b"true",
               b"[" * 50_000 + b"]" * 50_000, b'{"a": ' * 50_000 + b"1" + b"}" * 50_000)
HOSTILE_HEADERS = {
    "User-Agent": "walker/" + "u" * 5000,
    "Accept-Language": "xx-YY;q=abc, ,;q=2, " + "k" * 500,
    "X-Forwarded-For": "not-an-ip, 999.1.1.1, " + "f" * 300,
    "Accept": "application/json;q=NaN, */*;q=-1",
}


class Tracking(ImmutableMultiDict):
    """Request args/form that note which keys the view read, so the walker attacks exactly those."""

    sink: set[str] | None = None

    def _note(self, key) -> None:
        if Tracking.sink is not None and isinstance(key, str):
            Tracking.sink.add(key)

    def __getitem__(self, key):
        self._note(key)
        return super().__getitem__(key)

    def __contains__(self, key) -> bool:
        self._note(key)
        return super().__contains__(key)

    def getlist(self, key, type=None):  # noqa: A002 - werkzeug's signature
        self._note(key)
        return super().getlist(key, type=type)


class Tracebacks(logging.Handler):
    """Collect every log record that carries an exception: an unhandled error, whatever the status."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or record.getMessage().startswith("Exception on"):
            self.records.append(record)


@dataclass
class Verdict:
    what: str
    status: int
    problem: str | None


@dataclass
class RuleWalk:
    rule: Rule
    verdicts: list[Verdict] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        return [f"{v.what} -> {v.status}: {v.problem}" for v in self.verdicts if v.problem]


def _summary(record: logging.LogRecord) -> str:
    if record.exc_info and record.exc_info[1] is not None:
        exc = record.exc_info[1]
        tb = record.exc_info[2]
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        where = f" at {tb.tb_frame.f_code.co_filename.split('/main/')[-1]}:{tb.tb_lineno}" if tb else ""
        return f"{type(exc).__name__}: {str(exc)[:200]}{where}"
    return record.getMessage()[:200]


def path_for(rule: Rule, values: dict[str, str]) -> str:
    """Fill a rule's converters with raw text (which may not even match the converter)."""
    def sub(match: re.Match) -> str:
        name = match.group(1).rsplit(":", 1)[-1]
        value = values[name]
        return value if "%" in value else quote(value, safe="")

    return re.sub(r"<([^>]+)>", sub, rule.rule)


class Walker:
    """One app, one world, one signed-in client per role; every request meets the world as built.

    The world is built and committed once. Then the app's sessions are bound to one connection in
    "create_savepoint" mode (SQLAlchemy's recipe for joining an external transaction): each rule is
    walked inside a transaction that is rolled back at its end, and each request inside a savepoint
    rolled back after it, so what one request changed (a record created, an offer accepted) never
    turns the next request's attack into a plain "already done".
    """

    def __init__(self, app: Flask):
        self.app = app
        self.world: World | None = None
        self.clients: dict[str, object] = {}
        self.csrf: dict[str, str] = {}
        # (endpoint, role) -> (path it posts to, form), as the pages showed them to that role
        self.forms: dict[tuple[str, str], list[tuple[str, F.Form]]] = {}
        self.query_keys: dict[str, set[str]] = {}  # endpoint -> query keys its view reads
        self.requests = 0
        self.lost: set[str] = set()  # roles whose sign-in a request ended (logout): signed in again
        self.tracebacks = Tracebacks()
        self.connection = None
        self._engine = None
        self._join_mode = None
        logging.getLogger().addHandler(self.tracebacks)

    def start(self) -> None:
        """Build the world, bind the app's sessions to one connection, and sign every role in."""
        self.world = build_world(self.app)
        engines = db._app_engines[self.app]  # noqa: SLF001 - Flask-SQLAlchemy keeps the app's engines here
        self._engine = engines[None]
        self.connection = self._engine.connect()
        engines[None] = self.connection
        db.session.remove()
        self._join_mode = db.session.session_factory.kw.get("join_transaction_mode")
        db.session.configure(join_transaction_mode="create_savepoint")
        for role in ROLES:
            self.sign_in(role)

    def close(self) -> None:
        logging.getLogger().removeHandler(self.tracebacks)
        db.session.remove()
        if self.connection is not None:
            self.connection.close()
            db._app_engines[self.app][None] = self._engine  # noqa: SLF001
        if self._join_mode is None:
            db.session.session_factory.kw.pop("join_transaction_mode", None)
        else:
            db.session.configure(join_transaction_mode=self._join_mode)

    @contextmanager
    def isolated(self) -> Iterator[None]:
        """Walk inside a transaction that is rolled back afterwards; sign lost roles in again."""
        self._settle()
        transaction = self.connection.begin()
        try:
            yield
        finally:
            db.session.remove()
            transaction.rollback()
            for role in sorted(self.lost):
                self.sign_in(role)  # committed: outside any walk's transaction
            self.lost.clear()
            self._settle()

    def _settle(self) -> None:
        """End the sessions of requests made outside a walk; keep what they wrote (sign-ins)."""
        db.session.remove()
        if self.connection.in_transaction():
            self.connection.commit()

    # --- the signed-in clients -----------------------------------------------------------------

    def sign_in(self, role: str) -> None:
        client = self.app.test_client()
        page = client.get("/login").get_data(as_text=True)
        token = _csrf_of(page)
        if role != ANONYMOUS:
            answer = client.post("/login", data={"email": self.world.users[role], "password": PASSWORD,
                                                 "csrf_token": token})
            assert answer.status_code == 302, f"{role} could not sign in: {answer.status_code}"
            token = _csrf_of(client.get("/account/password").get_data(as_text=True))
        db.session.remove()
        self.clients[role], self.csrf[role] = client, token

    def clone(self, role: str) -> str:
        """Return the name of a throwaway client holding a copy of the role's cookies.

        For requests that may end the sign-in client-side: Flask-Login's strong session protection
        clears the session when the User-Agent changes, and the hostile headers change it.
        """
        copy = self.app.test_client()
        for cookie in self.clients[role]._cookies.values():  # noqa: SLF001 - Werkzeug's cookie jar
            copy.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)
        name = f"{role} (copy)"
        self.clients[name], self.csrf[name] = copy, self.csrf[role]
        return name

    def _still_signed_in(self, role: str, response) -> None:
        # A request that ended the walker's own sign-in (logout, a password change) is not a failure;
        # the next request needs a session again.
        if role in self.world.users and response.status_code == 302 and "/login" in response.headers.get("Location", ""):
            self.sign_in(role)
            self.lost.add(role)  # this sign-in is rolled back with the walk: sign in again after it

    # --- sending -------------------------------------------------------------------------------

    def send(self, role: str, method: str, path: str, **kw):
        """Send one request as the role; return (status, response, traceback summaries)."""
        self.tracebacks.records.clear()
        # Anonymous requests each get a copy of the visitor's cookies: a registration that succeeds
        # signs its client in, and the visitor must stay a visitor for the next request.
        client = self.clients[self.clone(role) if role == ANONYMOUS else role]
        if isinstance(kw.get("data"), list):
            kw["data"] = MultiDict(kw["data"])
        db.session.remove()  # a session left by a request outside send() would sit below the savepoint
        savepoint = self.connection.begin_nested() if self.connection.in_transaction() else None
        try:
            response = client.open(path, method=method, **kw)
        finally:
            # Production ends each request's session with its app context; the walk holds one context
            # open, so the session goes here, and with the savepoint everything the request changed.
            db.session.remove()
            if savepoint is not None and savepoint.is_active:
                savepoint.rollback()
        self.requests += 1
        errors = [_summary(r) for r in self.tracebacks.records]
        self._still_signed_in(role, response)
        return response, errors

    def check(self, walk: RuleWalk, what: str, response, errors: list[str], *, bad: bool,
              allowed: set[int] | None = None) -> None:
        status = response.status_code
        problem = None
        if errors:
            problem = "unhandled exception logged: " + "; ".join(errors)
        elif status >= 500:
            problem = "server error"
        elif allowed is not None:
            if status not in allowed:
                problem = f"expected one of {sorted(allowed)}"
        elif bad and status not in CLEAR_4XX:
            problem = "bad input was not refused with a clear 4xx"
        walk.verdicts.append(Verdict(what, status, problem))

    # --- ids -----------------------------------------------------------------------------------

    def id_choices(self, rule: Rule, role: str) -> Iterator[tuple[dict[str, str], dict[str, str]]]:
        """Yield (values, labels) for every combination of own / someone else's / missing ids, then odd ones."""
        per_arg: dict[str, list[tuple[str, str]]] = {}
        for arg in rule.arguments:
            if _numeric(rule, arg):
                if arg not in self.world.ids:
                    raise LookupError(f"{rule.rule}: no ids for <{arg}>: add whose they are to tests/walker/world.py")
                own, other = self.world.pools(arg, role if role != ANONYMOUS else "*")
                per_arg[arg] = ([("own", str(v)) for v in own] + [("other", str(v)) for v in other]
                                + [("missing", str(MISSING))])
            else:
                if arg not in STRING_POOLS and not (arg == "token" and self.world.invitation_token):
                    raise LookupError(f"{rule.rule}: no values for <{arg}>: add them to STRING_POOLS")
                own, other, missing = STRING_POOLS.get(arg) or ([self.world.invitation_token], [], ["not-a-token"])
                per_arg[arg] = ([("own", v) for v in own] + [("other", v) for v in other]
                                + [("missing", v) for v in missing])
        args = list(per_arg)
        for combo in itertools.product(*(per_arg[a] for a in args)):
            yield {a: v for a, (_label, v) in zip(args, combo)}, {a: label for a, (label, _v) in zip(args, combo)}
        own_values = {a: per_arg[a][0][1] for a in args}
        for arg in args:
            for odd in ODD_INTS if _numeric(rule, arg) else ODD_STRINGS:
                yield {**own_values, arg: odd}, {**{a: "own" for a in args}, arg: "odd"}

    def own_values(self, rule: Rule, role: str) -> list[dict[str, str]]:
        """Every combination of the role's own ids for the rule."""
        return [values for values, labels in self.id_choices(rule, role)
                if all(label == "own" for label in labels.values())]

    # --- forms ---------------------------------------------------------------------------------

    def survey(self) -> None:
        """Render every page each role may see with its own ids; keep the forms and the query keys read."""
        with self.isolated():
            self._survey()

    def _survey(self) -> None:
        adapter = self.app.url_map.bind("localhost")
        for rule in self.app.url_map.iter_rules():
            if rule.endpoint == "static" or "GET" not in rule.methods:
                continue
            for role in roles_allowed(self.app, rule):
                for values in self.own_values(rule, role):
                    Tracking.sink = keys = set()
                    try:
                        response, _errors = self.send(role, "GET", path_for(rule, values))
                    finally:
                        Tracking.sink = None
                    self.query_keys.setdefault(rule.endpoint, set()).update(keys)
                    if response.mimetype != "text/html":
                        continue
                    for form in F.parse_forms(response.get_data(as_text=True)):
                        if form.method != "post":
                            continue
                        form.action = form.action or path_for(rule, values)  # no action: the page itself
                        try:
                            endpoint, _args = adapter.match(form.action.split("?")[0], method="POST")
                        except Exception:  # noqa: BLE001 - a form posting elsewhere (the hub)
                            continue
                        self.forms.setdefault((endpoint, role), []).append((form.action, form))

    def form_for(self, endpoint: str, role: str, path: str) -> F.Form | None:
        """The form the role was shown that posts to this path, else one that posts to the same endpoint."""
        found = self.forms.get((endpoint, role), [])
        for action, form in found:
            if action.split("?")[0] == path:
                return form
        return found[0][1] if found else None


def _numeric(rule: Rule, arg: str) -> bool:
    return isinstance(rule._converters[arg], IntegerConverter)  # noqa: SLF001


def roles_allowed(app: Flask, rule: Rule) -> list[str]:
    """Return the roles whose sessions the route's policy lets in (TOKEN routes: none)."""
    policy = policy_of(app.view_functions[rule.endpoint]) or frozenset()
    if TOKEN in policy:
        return []
    if PUBLIC in policy:
        return list(ROLES)
    if AUTHENTICATED in policy:
        return [r for r in ROLES if r != ANONYMOUS]
    return [r for r in ROLES if r in policy]


def _csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or \
        re.search(r'value="([^"]+)"[^>]*name="csrf_token"', page)
    assert found, "no CSRF token on the page"
    return found.group(1)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def credentials(world: World) -> dict[str, tuple[dict[str, str], bool]]:
    """Machine credentials for token routes: label -> (headers, genuine?)."""
    return {
        "no credential": ({}, False),
        "own bearer": ({"Authorization": f"Bearer {world.bearer['own']}"}, True),
        "someone else's bearer": ({"Authorization": f"Bearer {world.bearer['other']}"}, True),
        "an instructor's bearer": ({"Authorization": f"Bearer {world.bearer['instructor']}"}, True),
        "expired bearer": ({"Authorization": f"Bearer {world.bearer['expired']}"}, False),
        "forged bearer": ({"Authorization": "Bearer " + "A" * 43}, False),
        "empty bearer": ({"Authorization": "Bearer "}, False),
        "oversized bearer": ({"Authorization": "Bearer " + "x" * 10_000}, False),
        "latin-1 bearer": ({"Authorization": "Bearer \xff\xfe\x00"}, False),
        "hub client": ({"Authorization": basic("jupyterhub", HUB_CLIENT_SECRET)}, True),
        "hub client, wrong secret": ({"Authorization": basic("jupyterhub", "wrong")}, False),
        "garbage basic": ({"Authorization": "Basic !!!not-base64"}, False),
        "worker token": ({TOKEN_HEADER: world.service["results"]}, True),
        "course A sync token": ({TOKEN_HEADER: world.service["manual_own"]}, True),
        "course B sync token": ({TOKEN_HEADER: world.service["manual_other"]}, True),
        "forged service token": ({TOKEN_HEADER: "results." + "0" * 64}, False),
        "oversized service token": ({TOKEN_HEADER: "manual-c1." + "0" * 5000}, False),
    }


def json_mutations(example: dict) -> Iterator[tuple[str, bytes, bool]]:
    """Yield (description, body, must be refused?) for each field of a JSON example made wrong."""
    for key, value in example.items():
        rest = {k: v for k, v in example.items() if k != key}
        yield f"{key} missing", json.dumps(rest).encode(), False
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        wrong: list[tuple[object, bool]] = [(None, False), (True, numeric), ("", False), ("abc", numeric),
                                            ([], True), ({}, True), (-1, False), (0, False), (1e308, False),
                                            (10**30, False), ("x" * 100_000, numeric), ("a\x00b", numeric),
                                            ("\ud800", True)]
        for bad, refused in wrong:
            yield f"{key}={str(bad)[:20]!r}", json.dumps({**rest, key: bad}).encode(), refused
        for literal in ("NaN", "Infinity", "-Infinity"):
            body = json.dumps({**rest, key: "@@"}).replace('"@@"', literal).encode()
            yield f"{key}={literal}", body, numeric
