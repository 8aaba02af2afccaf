"""Class-start burst: --trainees trainees sign in at the portal and start their servers within one minute.

Starts the real portal (gunicorn), JupyterHub and its proxy on loopback with the project's jupyterhub_config.py
and the spawner the hub tests use (tests/hub/stack.py), plus one bench-only service token that may read and stop
servers. Trainee k arrives at k * --window / --trainees seconds (all within the window), each with one HTTP
client: the portal's sign-in form, the hub's /hub/spawn through the OAuth hop at the portal, then, once the hub
reports the server ready, its /lab page (as bench_hub_login.py's crowd does, reused here). A trainee's wait is
from their own arrival to their /lab page loaded; one not ready within --timeout seconds has failed. Then every
server is stopped, the stack is stopped and its folder removed.

Run from the repository root:  .venv/bin/python bench/bench_burst.py --trainees 60 --window 60
"""
from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
from bench_hub_login import BENCH_CONFIG, email  # noqa: E402
from tests.hub.stack import DEMO_PASSWORD, Stack  # noqa: E402


def arrive(stack: Stack, api, i: int, at: float, timeout: float) -> tuple[bool, float, str]:
    """Sign trainee i in at monotonic time `at` and start their server; return (ok, wait in s, why not)."""
    uid = stack.user_id(email(i))
    s = requests.Session()
    form = s.get(f"{stack.portal_url}/login", timeout=60).text
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
    time.sleep(max(0.0, at - time.monotonic()))
    start = time.monotonic()
    deadline = start + timeout
    try:
        r = s.post(f"{stack.portal_url}/login", data={"csrf_token": csrf, "email": email(i),
                                                     "password": DEMO_PASSWORD}, timeout=timeout)
        if 'data-test="who"' not in r.text:
            return False, time.monotonic() - start, f"portal sign-in answered {r.status_code}"
        s.get(f"{stack.hub_url}/hub/spawn", timeout=max(1.0, deadline - time.monotonic()))
        while time.monotonic() < deadline:
            server = api("GET", f"/users/u{uid}").json().get("servers", {}).get("")
            if server and server["ready"]:
                r = s.get(f"{stack.hub_url}/user/u{uid}/lab", timeout=max(1.0, deadline - time.monotonic()))
                ok = r.status_code == 200 and "jupyter-config-data" in r.text
                return ok, time.monotonic() - start, "" if ok else f"lab answered {r.status_code}"
            time.sleep(1)
        return False, time.monotonic() - start, "timeout"
    except Exception as exc:  # report every failure, keep the others running
        return False, time.monotonic() - start, repr(exc)[:200]


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
    stack = Stack(root / "stack", trainees=args.trainees, config=config)

    def api(method: str, path: str, **kw) -> requests.Response:
        return requests.request(method, f"{stack.hub_url}/hub/api{path}",
                                headers={"Authorization": f"token {token}"}, timeout=60, **kw)

    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs", flush=True)
    t = time.perf_counter()
    stack.start()
    print(f"stack up in {time.perf_counter() - t:.1f} s ({root})", flush=True)
    results: list[tuple[bool, float, str]] = [(False, 0.0, "not run")] * args.trainees
    try:
        begin = time.monotonic() + 5  # every client has its sign-in form by then
        step = args.window / args.trainees

        def one(k: int) -> None:
            results[k] = arrive(stack, api, k + 1, begin + k * step, args.timeout)

        threads = [threading.Thread(target=one, args=(k,), daemon=True) for k in range(args.trainees)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(args.window + args.timeout + 120)
        peak_load = os.getloadavg()[0]
        names = [f"u{stack.user_id(email(k + 1))}" for k in range(args.trainees)]
        left = stop_all(api, names)
    finally:
        stack.stop()
        shutil.rmtree(root, ignore_errors=True)
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
    reasons: dict[str, int] = {}
    for r in results:
        if not r[0]:
            reasons[r[2]] = reasons.get(r[2], 0) + 1
    for why, count in sorted(reasons.items(), key=lambda x: -x[1]):
        print(f"failure x{count}: {why}")


if __name__ == "__main__":
    main()
