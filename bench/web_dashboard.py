"""How fast the province head's dashboard answers on the demo data: against a running
`cchc demo` (it starts nothing), logged in as the printed province head with the session
cookie, as a browser is. Measures GET / (the whole dashboard page, HTML) and the block of
figures htmx asks for every 5 s (GET / with `HX-Request: true`), one request at a time, N
after a warm-up; prints p50/p95/p99/max. The target: p95 under 300 ms.

    .venv/bin/cchc demo --port 8000 &      # wait for the logins table
    .venv/bin/python bench/web_dashboard.py --base-url http://127.0.0.1:8000 -n 200
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import httpx

from cchc.demo_data import PASSWORD, PROVINCE_HEAD

TARGET_P95_MS = 300.0
REQUESTS = {
    "dashboard page (GET /)": {},
    "figures refresh (GET /, HX-Request)": {"HX-Request": "true", "HX-Current-URL": "/"},
}


def signed_in(base_url: str, username: str, password: str) -> httpx.Client:
    """A client holding the session cookie of `username`, as the browser after the login form."""
    client = httpx.Client(base_url=base_url, timeout=60)
    answer = client.post("/api/auth/login", json={"username": username, "password": password})
    if answer.status_code != 200:
        raise SystemExit(f"could not log in as {username}: {answer.status_code} {answer.text[:200]}")
    return client


def measure(client: httpx.Client, headers: dict[str, str], n: int, warmup: int) -> tuple[list[float], int]:
    """Milliseconds of `n` GET / after `warmup` unmeasured ones, and the size of the last answer."""
    times: list[float] = []
    size = 0
    for index in range(warmup + n):
        started = time.perf_counter()
        answer = client.get("/", headers=headers)
        elapsed = (time.perf_counter() - started) * 1000
        if answer.status_code != 200 or "text/html" not in answer.headers.get("content-type", ""):
            raise SystemExit(f"GET / answered {answer.status_code} {answer.headers.get('content-type')}")
        size = len(answer.content)
        if index >= warmup:
            times.append(elapsed)
    return times, size


def percentile(values: list[float], share: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default=os.environ.get("CCHC_PUBLIC_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--username", default=PROVINCE_HEAD.username)
    parser.add_argument("--password", default=PASSWORD)
    parser.add_argument("-n", "--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    client = signed_in(args.base_url, args.username, args.password)
    print(f"{args.base_url} as {args.username}; N = {args.requests} after {args.warmup} warm-up, one at a time")
    print(f"\n{'request':<38} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8} {'size':>9}")
    verdicts = []
    try:
        for name, headers in REQUESTS.items():
            found, size = measure(client, headers, args.requests, args.warmup)
            p95 = percentile(found, 0.95)
            verdicts.append(p95 < TARGET_P95_MS)
            print(
                f"{name:<38} {percentile(found, 0.50):>6.0f}ms {p95:>6.0f}ms {percentile(found, 0.99):>6.0f}ms "
                f"{max(found):>6.0f}ms {size / 1024:>7.1f}kB"
            )
    finally:
        client.close()
    print(f"\nload average before {load:.2f}, after {os.getloadavg()[0]:.2f}")
    print(f"target p95 < {TARGET_P95_MS:.0f} ms: " + ("met" if all(verdicts) else "NOT met"))


if __name__ == "__main__":
    main()
