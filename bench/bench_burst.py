"""Class-start burst: --trainees trainees sign in at the portal and start their servers within one minute.

Starts the real portal (gunicorn), JupyterHub and its proxy on loopback with the project's jupyterhub_config.py
and the spawner the hub tests use (tests/hub/stack.py), plus one bench-only service token that may read and stop
servers. Trainee k arrives at k * --window / --trainees seconds (all within the window), each with one HTTP
client: the portal's sign-in form, the hub's /hub/spawn through the OAuth hop at the portal, then, once the hub's
progress event stream says the server is ready (as the spawn-pending page follows it), its /lab page. A trainee's wait is
from their own arrival to their /lab page loaded; one not ready within --timeout seconds has failed. Then every
server is stopped and the stack is stopped. Its folder is kept, and printed: the portal's and the hub's logs (the
proxy's and the servers' output is in the hub's), and failures.json, which names for every failure the step, the
URL and the hop (the port the client spoke to: the portal's gunicorn or the hub's proxy) and the exception, with
the wall-clock time to find it in the logs. The machine's TCP counters (listen-queue overflows, resets sent) are
read before and after, for the whole machine.

Run from the repository root:  .venv/bin/python bench/bench_burst.py --trainees 60 --window 60
"""
from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ReadTimeoutError
from urllib3.util import Retry

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
from bench_hub_login import BENCH_CONFIG, email  # noqa: E402
from tests.hub.stack import DEMO_PASSWORD, Stack  # noqa: E402


class Failure(Exception):
    """A trainee's step that did not succeed, with where it failed."""


def hop(stack: Stack, url: str) -> str:
    """Name the server a URL's port belongs to (the first hop the client's connection reached)."""
    port = urlsplit(url).port
    names = {stack.portal_port: "portal (gunicorn)", stack.hub_port: "hub's public proxy (configurable-http-proxy)"}
    return f"{names.get(port, 'port')} :{port}"


def resend_once(resent: list[str]) -> Retry:
    """Resend a request once when its connection was reset or closed before an answer came, as a browser does on a
    kept-alive connection (HTTP/1.1's keep-alive race: the server closes an idle connection as the client's next
    request arrives on it); note each resend in `resent`. A read timeout is not resent."""

    class Resend(Retry):
        def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
            if isinstance(error, ReadTimeoutError):
                raise error
            if error is not None:
                resent.append(f"{method} :{getattr(_pool, 'port', '?')}{url}: {error!r}"[:200])
            return super().increment(method, url, response, error, _pool, _stacktrace)

    return Resend(total=1, connect=1, read=1, status=0, other=0, allowed_methods=None, raise_on_status=False)


def arrive(stack: Stack, api, i: int, at: float, timeout: float, resent: list[str]) -> tuple[bool, float, dict]:
    """Sign trainee i in at monotonic time `at` and start their server; return (ok, wait in s, the failure)."""
    uid = stack.user_id(email(i))
    s = requests.Session()
    s.mount("http://", HTTPAdapter(max_retries=resend_once(resent)))
    seen: list[str] = []  # every answer on this trainee's session: redirects show which hop came before
    s.hooks["response"].append(lambda r, *a, **kw: seen.append(f"{r.status_code} {r.request.method} {r.url}"))
    form = s.get(f"{stack.portal_url}/login", timeout=60).text
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
    time.sleep(max(0.0, at - time.monotonic()))
    start = time.monotonic()
    deadline = start + timeout
    step, url = "portal sign-in", f"{stack.portal_url}/login"
    try:
        r = s.post(url, data={"csrf_token": csrf, "email": email(i), "password": DEMO_PASSWORD}, timeout=timeout)
        if 'data-test="who"' not in r.text:
            raise Failure(f"portal sign-in answered {r.status_code}")
        step, url = "hub spawn (OAuth at the portal)", f"{stack.hub_url}/hub/spawn"
        s.get(url, timeout=max(1.0, deadline - time.monotonic()))
        # Wait as the spawn-pending page does: on the hub's progress event stream (one request, its own
        # connection), not by polling (60 trainees polling each second were a large part of the hub's load).
        step, url = "spawn progress stream (own connection)", f"{stack.hub_url}/hub/api/users/u{uid}/server/progress"
        if not wait_ready(api, uid, deadline):
            raise Failure("timeout")
        step, url = "lab page (OAuth at the hub)", f"{stack.hub_url}/user/u{uid}/lab"
        r = s.get(url, timeout=max(1.0, deadline - time.monotonic()))
        if r.status_code != 200 or "jupyter-config-data" not in r.text:
            raise Failure(f"lab answered {r.status_code}")
        return True, time.monotonic() - start, {}
    except Exception as exc:  # report every failure, keep the others running
        failed = getattr(getattr(exc, "request", None), "url", None) or url  # a redirect's own URL, if it got there
        return False, time.monotonic() - start, {
            "trainee": i, "user": f"u{uid}", "step": step, "url": failed, "hop": hop(stack, failed),
            "error": str(exc)[:300] if isinstance(exc, Failure) else repr(exc)[:300],
            "at": time.strftime("%H:%M:%S", time.localtime()) + f" ({time.monotonic() - start:.1f} s after arrival)",
            "answers_before": seen[-6:]}


def wait_ready(api, uid: int, deadline: float) -> bool:
    """Follow u<uid>'s spawn on the hub's progress event stream until ready (True) or the deadline (False).

    The hub marks a spawn as started only after its re-check at the portal, so the stream may answer 400 ("not
    starting") for a while after /hub/spawn: then the bench asks again each second (and, as the spawn-pending page
    does, goes on once the server is ready). A failed spawn raises Failure with the hub's words, as does a spawn that
    never started (the last 400 is in the failure)."""
    refused = ""
    while time.monotonic() < deadline:
        with api("GET", f"/users/u{uid}/server/progress", stream=True,
                 timeout=(60, max(1.0, deadline - time.monotonic()))) as events:
            if events.status_code == 400:
                refused = events.text[:200]
            elif events.status_code != 200:
                raise Failure(f"progress answered {events.status_code}: {events.text[:200]}")
            else:
                try:
                    for line in events.iter_lines():
                        if line.startswith(b"data:"):
                            event = json.loads(line[5:])
                            if event.get("ready"):
                                return True
                            if event.get("failed"):
                                raise Failure(f"spawn failed: {event.get('message', '')[:200]}")
                except requests.ConnectionError:  # the read timeout at the deadline
                    if time.monotonic() < deadline:
                        raise
                    return False
        server = api("GET", f"/users/u{uid}").json().get("servers", {}).get("")
        if server and server["ready"]:
            return True
        time.sleep(1)
    if refused:
        raise Failure(f"timeout; the hub's last progress answer: 400 {refused}")
    return False


TCP_COUNTERS = ("ListenOverflows", "ListenDrops", "TCPAbortOnData", "TCPAbortOnClose", "TCPAbortOnTimeout",
                "OutRsts", "EstabResets", "AttemptFails")


def tcp_counters() -> dict[str, int]:
    """The machine's TCP counters that a reset or a full listen queue moves (/proc/net/netstat and snmp)."""
    values: dict[str, int] = {}
    for path in ("/proc/net/netstat", "/proc/net/snmp"):
        try:
            lines = Path(path).read_text().splitlines()
        except OSError:
            continue
        for names, numbers in zip(lines[::2], lines[1::2]):
            for name, number in zip(names.split()[1:], numbers.split()[1:]):
                if name in TCP_COUNTERS:
                    values[name] = int(number)
    return values


def stop_all(api, names: list[str], timeout: float = 180) -> int:
    """Stop every server and wait until the hub has none left; return how many were still running."""
    for name in names:
        api("DELETE", f"/users/{name}/server")
    deadline = time.monotonic() + timeout
    left = names
    while left and time.monotonic() < deadline:
        time.sleep(1)
        left = [n for n in left if api("GET", f"/users/{n}").json().get("servers")]
    return len(left)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trainees", type=int, default=60)
    parser.add_argument("--window", type=float, default=60.0, help="seconds over which the trainees arrive")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds a trainee may wait for JupyterLab")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-burst-"))
    token = secrets.token_hex(32)
    config = root / "bench_config.py"
    config.write_text(BENCH_CONFIG.format(main=str(REPO / "jupyterhub_config.py"), token=token))
    # The portal's access log, with the time and the client's port, to match a failure in portal.log.
    os.environ.setdefault("GUNICORN_CMD_ARGS", "--access-logfile - --access-logformat "
                          "'%(t)s %(h)s:%({REMOTE_PORT}e)s \"%(r)s\" %(s)s %(L)ss'")
    stack = Stack(root / "stack", trainees=args.trainees, config=config)

    def api(method: str, path: str, **kw) -> requests.Response:
        kw.setdefault("timeout", 60)
        return requests.request(method, f"{stack.hub_url}/hub/api{path}",
                                headers={"Authorization": f"token {token}"}, **kw)

    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs", flush=True)
    t = time.perf_counter()
    stack.start()
    print(f"stack up in {time.perf_counter() - t:.1f} s ({root})", flush=True)
    results: list[tuple[bool, float, dict]] = [(False, 0.0, {"error": "not run"})] * args.trainees
    counters = tcp_counters()
    resent: list[str] = []  # requests resent once after a reset before any answer (list.append is thread-safe)
    try:
        begin = time.monotonic() + 5  # every client has its sign-in form by then
        step = args.window / args.trainees

        def one(k: int) -> None:
            results[k] = arrive(stack, api, k + 1, begin + k * step, args.timeout, resent)

        threads = [threading.Thread(target=one, args=(k,), daemon=True) for k in range(args.trainees)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(args.window + args.timeout + 120)
        peak_load = os.getloadavg()[0]
        names = [f"u{stack.user_id(email(k + 1))}" for k in range(args.trainees)]
        counters = {k: v - counters.get(k, 0) for k, v in tcp_counters().items()}
        left = stop_all(api, names)
    finally:
        stack.stop()
    failures = [r[2] for r in results if not r[0]]
    (root / "failures.json").write_text(json.dumps({"failures": failures, "resent": resent}, indent=1,
                                                   ensure_ascii=False))
    ok = sorted(r[1] for r in results if r[0])
    print(f"\n| {args.trainees} trainees arriving over {args.window:.0f} s (timeout {args.timeout:.0f} s) | result |")
    print("|---|---|")
    print(f"| ready in JupyterLab | {len(ok)} of {args.trainees} |")
    if ok:
        print(f"| wait, arrival to JupyterLab loaded: median | {statistics.median(ok):.1f} s |")
        print(f"| wait: longest (of those who succeeded) | {ok[-1]:.1f} s |")
        print(f"| wait: shortest | {ok[0]:.1f} s |")
    print(f"| servers still running after the stop | {left} |")
    print(f"| load average (1 min) when the last was done | {peak_load:.2f} on {os.cpu_count()} CPUs |")
    print(f"| TCP counters during the arrivals (whole machine) | "
          f"{', '.join(f'{k} +{v}' for k, v in counters.items() if v) or 'none moved'} |")
    print(f"| requests resent once after a connection reset before any answer (as a browser does) | {len(resent)} |")
    reasons: dict[str, int] = {}
    for f in failures:
        key = f"{f.get('step', '')} at {f.get('hop', '')}: {f['error']}"
        reasons[key] = reasons.get(key, 0) + 1
    for why, count in sorted(reasons.items(), key=lambda x: -x[1]):
        print(f"failure x{count}: {why}")
    for f in failures:
        print(f"  trainee {f.get('trainee')}: {f.get('url')} at {f.get('at')}")
    for r in resent:
        print(f"  resent: {r}")
    print(f"\nlogs kept in {root}: stack/portal.log, stack/hub.log (proxy and servers too), failures.json")


if __name__ == "__main__":
    main()
