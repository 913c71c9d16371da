"""GET /metrics: Prometheus text with the numbers an operator watches."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from hubbub.client import ApiError
from tests.support import ServerProcess, messages_of, new_user, run


def _scrape(url: str) -> dict[str, float]:
    r = httpx.get(url + "/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            label = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            values[sample.name + (f"{{{label}}}" if label else "")] = sample.value
    return values


def test_metrics_count_messages_deliveries_commits_and_errors(server: ServerProcess) -> None:
    before = _scrape(server.url)

    async def body() -> None:
        a, b = await new_user(server.url), await new_user(server.url)
        wa, wb = await a.connect(), await b.connect()
        for i in range(5):
            await wa.send_message(f"m{i}", to=b.user_id)
        await messages_of(wb, 5)
        with pytest.raises(ApiError):
            await wa.send_message("", to=b.user_id)
        during = _scrape(server.url)
        assert during["hubbub_connections"] >= 2
        await wa.close()
        await wb.close()

    run(body())
    after = _scrape(server.url)
    assert (
        after["hubbub_messages_stored_total"] - before.get("hubbub_messages_stored_total", 0) == 5
    )
    # each message: one entry for b's device, one for a's own device
    assert after["hubbub_deliveries_total"] - before.get("hubbub_deliveries_total", 0) >= 10
    assert after["hubbub_send_to_sent_seconds_count"] >= 5
    assert after["hubbub_commit_batch_jobs_count"] > before.get("hubbub_commit_batch_jobs_count", 0)
    assert after["hubbub_commit_seconds_sum"] > 0
    assert after["hubbub_errors_total{code=bad_request}"] >= 1
