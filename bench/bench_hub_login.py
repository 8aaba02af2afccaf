"""Sign-in bench: portal login click to JupyterLab ready, next to a plain JupyterHub spawn; then a crowd.

Starts the real portal (gunicorn), JupyterHub and its proxy on loopback (tests/hub/stack.py), with the
project's jupyterhub_config.py plus one bench-only service token that may start and stop servers.

1. Portal: for each of --runs fresh trainees, headless Chromium opens the portal's sign-in page; the
   clock starts at the click on "Sign in" and stops when JupyterLab's main area is on screen (portal
   sign-in, "Open my notebooks", the OAuth round trip, the spawn, JupyterLab loading).
2. Plain: the same hub spawns the same server for users created through its REST API (no portal, no
   OAuth): the clock starts at POST /users/<name>/server; the bench waits on the hub's progress event
   stream (as the spawn-pending page does), then Chromium (authenticated by a token header) opens the
   same JupyterLab; it stops when JupyterLab's main area is on screen. Runs alternate portal, plain.
3. Crowd: --crowd fresh trainees sign in at the portal and start their servers at the same moment
   (one HTTP client each: sign-in form, hub /hub/spawn through the OAuth hop; once the hub reports the
   server ready, the client loads its /lab page). The clock stops when that page has loaded.

Run from the repository root:  .venv/bin/python bench/bench_hub_login.py --runs 10 --crowd 20
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

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.hub.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.hub.stack import DEMO_PASSWORD, Stack  # noqa: E402

BENCH_CONFIG = """\
load_subconfig({main!r})
c.JupyterHub.services.append({{"name": "bench", "api_token": {token!r}}})
c.JupyterHub.load_roles.append({{"name": "bench", "services": ["bench"],
    "scopes": ["admin:users", "admin:servers", "access:servers", "list:users", "read:users", "read:servers"]}})
"""


def email(i: int) -> str:
    return f"trainee{i:03d}@academy.test"


def wait_stopped(stack: Stack, api, name: str) -> None:
    api("DELETE", f"/users/{name}/server")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if not api("GET", f"/users/{name}").json().get("servers"):
            return
        time.sleep(0.3)


def portal_runs(stack: Stack, api, browser, runs: list[int]) -> list[float]:
    times = []
    for i in runs:
        uid = stack.user_id(email(i))
        context = browser.new_context(locale="ko-KR")
        page = context.new_page()
        page.goto(f"{stack.portal_url}/login?next=/notebooks")
        page.fill("input[name=email]", email(i))
        page.fill("input[name=password]", DEMO_PASSWORD)
        start = time.perf_counter()
        page.click("form button[type=submit].primary")
        page.click("[data-test=open-notebooks]", timeout=60_000)
        page.wait_for_url(re.compile(rf"/user/u{uid}/lab"), timeout=300_000)
        page.wait_for_selector("#jp-main-dock-panel", timeout=300_000)
        times.append(time.perf_counter() - start)
        print(f"  portal run {i}: {times[-1]:.2f} s", flush=True)
        context.close()
        wait_stopped(stack, api, f"u{uid}")
    return times


def plain_runs(stack: Stack, api, browser, token: str, runs: list[int]) -> list[float]:
    """Spawn through the REST API, then open the same JupyterLab in Chromium (token header, no sign-in)."""
    times = []
    for i in runs:
        name = f"plain{i}"
        api("POST", f"/users/{name}")
        context = browser.new_context(locale="ko-KR", extra_http_headers={"Authorization": f"token {token}"})
        page = context.new_page()
        start = time.perf_counter()
        assert api("POST", f"/users/{name}/server").status_code in {201, 202}
        # Wait as the hub's spawn-pending page does: on the progress event stream, without polling.
        with requests.get(f"{stack.hub_url}/hub/api/users/{name}/server/progress", stream=True, timeout=300,
                          headers={"Authorization": f"token {token}"}) as events:
            for line in events.iter_lines():
                if line.startswith(b"data:") and json.loads(line[5:]).get("ready"):
                    break
        page.goto(f"{stack.hub_url}/user/{name}/lab")
        page.wait_for_selector("#jp-main-dock-panel", timeout=300_000)
        times.append(time.perf_counter() - start)
        print(f"  plain run {i}: {times[-1]:.2f} s", flush=True)
        context.close()
        wait_stopped(stack, api, name)
    return times


def crowd(stack: Stack, api, first: int, n: int) -> list[tuple[bool, float, str]]:
    results: list[tuple[bool, float, str]] = [(False, 0.0, "not run")] * n
    barrier = threading.Barrier(n)

    def one(k: int) -> None:
        i = first + k
        uid = stack.user_id(email(i))
        s = requests.Session()
        form = s.get(f"{stack.portal_url}/login", timeout=60).text
        csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
        barrier.wait()
        start = time.perf_counter()
        try:
            r = s.post(f"{stack.portal_url}/login", data={"csrf_token": csrf, "email": email(i),
                                                         "password": DEMO_PASSWORD}, timeout=120)
            assert "data-test=\"who\"" in r.text, "portal sign-in failed"
            s.get(f"{stack.hub_url}/hub/spawn", timeout=300)  # OAuth hop at the portal, then the spawn
            deadline = time.monotonic() + 900
            while time.monotonic() < deadline:
                # The hub's view of the server (bench token), as the spawn-pending page follows it.
                # (A server may be missing from the model for a moment; only the deadline fails a user.)
                server = api("GET", f"/users/u{uid}").json().get("servers", {}).get("")
                if server and server["ready"]:
                    r = s.get(f"{stack.hub_url}/user/u{uid}/lab", timeout=300)
                    ok = r.status_code == 200 and "jupyter-config-data" in r.text
                    results[k] = (ok, time.perf_counter() - start, "" if ok else f"lab answered {r.status_code}")
                    return
                time.sleep(1)
            results[k] = (False, time.perf_counter() - start, "timeout")
        except Exception as exc:  # report every failure, keep the others running
            results[k] = (False, time.perf_counter() - start, repr(exc)[:200])

    threads = [threading.Thread(target=one, args=(k,), daemon=True) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--crowd", type=int, default=20)
    parser.add_argument("--crowd-only", action="store_true", help="skip the one-by-one runs")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-hub-"))
    token = secrets.token_hex(32)
    config = root / "bench_config.py"
    config.write_text(BENCH_CONFIG.format(main=str(REPO / "jupyterhub_config.py"), token=token))
    stack = Stack(root, trainees=args.runs + args.crowd, config=config)

    def api(method: str, path: str, **kw) -> requests.Response:
        return requests.request(method, f"{stack.hub_url}/hub/api{path}",
                                headers={"Authorization": f"token {token}"}, timeout=60, **kw)

    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs", flush=True)
    if args.crowd_only:
        args.runs = 0
    t = time.perf_counter()
    stack.start()
    print(f"stack up in {time.perf_counter() - t:.1f} s ({root})", flush=True)
    try:
        from playwright.sync_api import sync_playwright

        portal, plain = [], []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            # Alternate, so a change of machine load hits both sides alike.
            for i in range(1, args.runs + 1):
                portal += portal_runs(stack, api, browser, [i])
                plain += plain_runs(stack, api, browser, token, [i])
            browser.close()
        print(f"crowd of {args.crowd} at once...", flush=True)
        results = crowd(stack, api, args.runs + 1, args.crowd)
    finally:
        stack.stop()
    ok = [r for r in results if r[0]]
    print("\n| measurement | result |\n|---|---|")
    if portal and plain:
        p_med, b_med = statistics.median(portal), statistics.median(plain)
        print(f"| portal sign-in click to JupyterLab ready, median of {len(portal)} | {p_med:.2f} s "
              f"(min {min(portal):.2f}, max {max(portal):.2f}) |")
        print(f"| plain JupyterHub spawn (REST) to JupyterLab ready, median of {len(plain)} | {b_med:.2f} s "
              f"(min {min(plain):.2f}, max {max(plain):.2f}) |")
        print(f"| ratio portal / plain | {p_med / b_med:.2f} |")
    print(f"| {args.crowd} trainees at once: succeeded | {len(ok)} of {args.crowd} |")
    if ok:
        waits = sorted(r[1] for r in ok)
        print(f"| {args.crowd} at once: last one ready after | {waits[-1]:.1f} s (median {statistics.median(waits):.1f} s,"
              f" first {waits[0]:.1f} s) |")
    for r in results:
        if not r[0]:
            print("failure:", r[2])
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
