"""A small month through a client generated from openapi.json (issue #17).

Run by crates/server/tests/it/contract.rs after `openapi-python-client
generate --meta none` has written the package `floorline_client` onto
PYTHONPATH, against a fresh instance whose clock is 2026-11-10T12:00:00Z
(October closed, November open) and whose config sets the pool to
POOL_MICRO_USD. Only the generated typed models and API functions are used,
so a document that cannot express a real request fails here.

Env: FLOORLINE_URL, FLOORLINE_INGEST_KEY, FLOORLINE_ADMIN_KEY. Exits 1 on
the first figure that is not what the facts imply.
"""

import datetime
import os
import sys

from floorline_client import AuthenticatedClient, Client
from floorline_client.api.admin import base_rewards, preview
from floorline_client.api.ingest import (
    ingest_bindings,
    ingest_earnings,
    ingest_health,
    ingest_machines,
    ingest_probes,
    ingest_sessions,
    ingest_watermarks,
)
from floorline_client.api.public import healthz
from floorline_client.models import (
    BindingIn,
    EarningIn,
    EarningSource,
    HealthIn,
    IngestAnswer,
    MachineIn,
    PoolStatusBody,
    ProbeIn,
    RunSummaryBody,
    SessionIn,
    TrustLevel,
    WatermarkIn,
)

# Must match the config contract.rs serves with.
POOL_MICRO_USD = 250_000_000


def at(text: str) -> datetime.datetime:
    """An aware UTC instant (the client sends it as RFC 3339 with +00:00)."""
    return datetime.datetime.fromisoformat(text).replace(tzinfo=datetime.timezone.utc)


failures = []


def expect(what: str, got, want) -> None:
    print(f"{what}: {got!r}" + ("" if got == want else f"  (want {want!r})"))
    if got != want:
        failures.append(what)


def ingested(kind: str, response, accepted: int, refined: int = 0) -> None:
    """A 200 with every item accepted (or refining one) and no conflict."""
    body = response.parsed
    expect(f"{kind} status", int(response.status_code), 200)
    if not isinstance(body, IngestAnswer):
        failures.append(f"{kind} body")
        print(f"{kind} answered {response.content!r}")
        return
    expect(f"{kind} accepted", body.accepted, accepted)
    expect(f"{kind} refined", body.refined, refined)
    expect(f"{kind} conflicts", len(body.conflicts), 0)


def main() -> int:
    url = os.environ["FLOORLINE_URL"]
    ingest = AuthenticatedClient(base_url=url, token=os.environ["FLOORLINE_INGEST_KEY"])
    admin = AuthenticatedClient(base_url=url, token=os.environ["FLOORLINE_ADMIN_KEY"])

    expect("healthz status", int(healthz.sync_detailed(client=Client(base_url=url)).status_code), 200)

    # Two machines: a 64 GB workhorse, up all October and probed (its full
    # floor, $18), and a 512 GB studio whose $50 of organic earnings exceed
    # its $40 floor (nothing granted).
    ingested("machines", ingest_machines.sync_detailed(client=ingest, body=[
        MachineIn(machine_id="m-w64", attested_at=at("2026-09-01T00:00:00"), hardware_model="Mac16,11",
                  reported_memory_gb=64, trust=TrustLevel.HARDWARE),
        MachineIn(machine_id="m-s512", attested_at=at("2026-09-01T00:00:00"), hardware_model="Mac15,14",
                  reported_memory_gb=512, trust=TrustLevel.HARDWARE),
    ]), accepted=2)
    ingested("bindings", ingest_bindings.sync_detailed(client=ingest, body=[
        BindingIn(machine_id="m-w64", account_id="acme", payout_identity="pay-acme", from_=at("2026-01-01T00:00:00")),
        BindingIn(machine_id="m-s512", account_id="zed", payout_identity="pay-zed", from_=at("2026-01-01T00:00:00")),
    ]), accepted=2)
    ingested("sessions", ingest_sessions.sync_detailed(client=ingest, body=[
        SessionIn(session_id="s-w64", machine_id="m-w64", connected_at=at("2026-09-30T00:00:00"),
                  last_seen_at=at("2026-11-10T11:00:00")),
        SessionIn(session_id="s-s512", machine_id="m-s512", connected_at=at("2026-10-01T00:00:00"),
                  last_seen_at=at("2026-11-10T11:00:00")),
    ]), accepted=2)
    # A heartbeat: the same session seen later refines the stored one.
    ingested("heartbeat", ingest_sessions.sync_detailed(client=ingest, body=[
        SessionIn(session_id="s-w64", machine_id="m-w64", connected_at=at("2026-09-30T00:00:00"),
                  last_seen_at=at("2026-11-10T11:59:00")),
    ]), accepted=0, refined=1)
    ingested("health", ingest_health.sync_detailed(client=ingest, body=[
        HealthIn(machine_id="m-w64", at=at("2026-10-15T00:00:00"), healthy=True),
    ]), accepted=1)
    ingested("probes", ingest_probes.sync_detailed(client=ingest, body=[
        ProbeIn(probe_id="pr-w64", machine_id="m-w64", at=at("2026-10-20T00:00:00"), passed=True,
                model="qwen-32b", verified_memory_gb=64),
    ]), accepted=1)
    ingested("earnings", ingest_earnings.sync_detailed(client=ingest, body=[
        EarningIn(job_id="job-s1", machine_id="m-s512", consumer_account_id="dave", amount_micro_usd=50_000_000,
                  kind=EarningSource.INFERENCE, pinned=False, at=at("2026-10-12T00:00:00")),
    ]), accepted=1)
    ingested("watermarks", ingest_watermarks.sync_detailed(client=ingest, body=[
        WatermarkIn(source="fleet", up_to=at("2026-11-01T00:00:00")),
    ]), accepted=1)

    # The pool status of the last closed epoch, before any run.
    status = base_rewards.sync_detailed(client=admin)
    expect("base-rewards status", int(status.status_code), 200)
    pool = status.parsed
    if isinstance(pool, PoolStatusBody):
        expect("base-rewards epoch", pool.epoch, "2026-10")
        expect("base-rewards settled", pool.settled, False)
        expect("base-rewards pool_micro_usd", pool.pool_micro_usd, POOL_MICRO_USD)
        expect("base-rewards pool_used_micro_usd", pool.pool_used_micro_usd, 0)
        expect("base-rewards unallocated_micro_usd", pool.unallocated_micro_usd, POOL_MICRO_USD)
    else:
        failures.append("base-rewards body")
        print(f"base-rewards answered {status.content!r}")

    # A preview of October: the workhorse's $18 floor, the studio nothing.
    planned = preview.sync_detailed("2026-10", client=admin)
    expect("preview status", int(planned.status_code), 200)
    run = planned.parsed
    if isinstance(run, RunSummaryBody):
        expect("preview n_machines", run.n_machines, 2)
        expect("preview granted_total_micro_usd", run.granted_total_micro_usd, 18_000_000)
        expect("preview unallocated_micro_usd", run.unallocated_micro_usd, POOL_MICRO_USD - 18_000_000)
    else:
        failures.append("preview body")
        print(f"preview answered {planned.content!r}")

    if failures:
        print(f"FAILED: {', '.join(failures)}")
        return 1
    print("client_month: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
