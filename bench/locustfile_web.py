"""Locust users for the web API benchmark (issue 8): cadres reading their worklist.

Driven by ``bench/bench_web.py``, which writes the cadres (one per simulated user:
user name, bearer token, area prefix, sample household ids of the area, the latest
period, rule ids) to a JSON file named by ``POVGUARD_BENCH_CADRES`` and reads back
every request's timing from ``POVGUARD_BENCH_TIMINGS`` (JSON lines written when
locust quits), so percentiles are exact rather than locust's rounded buckets.

Each locust user takes the next cadre (round robin) and, with a wait of 0.5-2 s
between requests (a person reading a screen):

- ``worklist`` (weight 3): ``GET /api/v1/warnings?period=<latest>&page=<1..5>&page_size=50``,
  with a ``kind`` filter in 20% and a ``rule`` filter in 15% of the requests (then
  page 1-2); the household ids of the answer are remembered;
- ``household`` (weight 2): ``GET /api/v1/households/{id}``, a household from the
  worklists the user received (70%, when it has any) or a random household of its
  area (30%).

Run it alone (after ``bench_web.py`` has written a cadres file)::

    POVGUARD_BENCH_CADRES=cadres.json .venv/bin/locust -f bench/locustfile_web.py \\
        --headless -u 50 -r 10 --run-time 60s --host http://127.0.0.1:8000
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
from pathlib import Path
from typing import Any

from locust import HttpUser, between, events, task

_CADRES: list[dict[str, Any]] = (
    json.loads(Path(os.environ["POVGUARD_BENCH_CADRES"]).read_text(encoding="utf-8"))
    if os.environ.get("POVGUARD_BENCH_CADRES")
    else []
)
_NEXT = itertools.count()
_TIMINGS: list[tuple[float, str, float, bool, int]] = []
KINDS = ("risk", "needs_verification", "ineligibility", "guarantee")


@events.request.add_listener
def _record(
    request_type: str,
    name: str,
    response_time: float,
    response_length: int,
    exception: BaseException | None = None,
    response: Any = None,
    **_kwargs: Any,
) -> None:
    status = int(getattr(response, "status_code", 0) or 0)
    _TIMINGS.append((time.time(), name, float(response_time), exception is None, status))


@events.quitting.add_listener
def _dump(**_kwargs: Any) -> None:
    path = os.environ.get("POVGUARD_BENCH_TIMINGS")
    if not path:
        return
    with open(path, "w", encoding="utf-8") as fh:
        for at, name, ms, ok, status in _TIMINGS:
            fh.write(json.dumps({"t": at, "name": name, "ms": ms, "ok": ok, "status": status}))
            fh.write("\n")


class Cadre(HttpUser):
    """A county or township cadre paging through warnings and opening households."""

    wait_time = between(0.5, 2.0)

    def on_start(self) -> None:
        """Take the next cadre of the file and set its bearer token."""
        if not _CADRES:
            raise RuntimeError("POVGUARD_BENCH_CADRES names no cadres file")
        self.cadre = _CADRES[next(_NEXT) % len(_CADRES)]
        self.seen: list[str] = []
        token = self.cadre.get("token")
        if token:
            self.client.headers["Authorization"] = f"Bearer {token}"

    @task(3)
    def worklist(self) -> None:
        """One page of the latest period's warnings of the cadre's area."""
        params: dict[str, Any] = {"period": self.cadre["period"], "page_size": 50}
        roll = random.random()
        if roll < 0.20:
            params["kind"] = random.choice(KINDS)
            params["page"] = random.randint(1, 2)
        elif roll < 0.35:
            params["rule"] = random.choice(self.cadre["rules"])
            params["page"] = random.randint(1, 2)
        else:
            params["page"] = random.randint(1, 5)
        with self.client.get(
            "/api/v1/warnings", params=params, name="worklist", catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")
                return
            items = response.json().get("items", [])
            self.seen = [item["household_id"] for item in items][:50] or self.seen

    @task(2)
    def household(self) -> None:
        """One household of the cadre's area (seen in a worklist, or at random)."""
        if self.seen and random.random() < 0.7:
            household_id = random.choice(self.seen)
        else:
            household_id = random.choice(self.cadre["households"])
        with self.client.get(
            f"/api/v1/households/{household_id}", name="household", catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")
