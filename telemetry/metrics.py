"""The desk's metrics: OpenTelemetry instruments read by a Prometheus reader.

Names follow Prometheus: one ``recon_`` prefix, counters end in ``_total``, durations
are in seconds, and no label holds a user or an item. Gauges that need the store
(queue, outbox, breakers) show the last :class:`~domain.gauges.DeskGauges` the serve
process read on its timer: a scrape never queries the database.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from domain.audit.records import AuditEntry
from domain.gauges import BREAKER_LEVEL, DeskGauges

#: Sign-off takes minutes to days: buckets from a minute to a week, in seconds.
SIGNOFF_BUCKETS = (60, 300, 900, 3600, 4 * 3600, 8 * 3600, 86400, 2 * 86400, 3 * 86400, 604800)
#: A Slack Web API call: milliseconds to a few seconds (with retries), in seconds.
SLACK_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
CONTENT_TYPE = CONTENT_TYPE_LATEST

#: Audit events of the SLA ladder, by rung.
_RUNGS = {
    "sla.reminded": "remind",
    "item.escalated": "escalate",
    "item.dead_lettered": "dead_letter",
}


class Metrics:
    """Every instrument, on a meter provider of its own (never the global one), so two
    processes' worth of tests in one interpreter do not share counts."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._reader = PrometheusMetricReader(
            disable_target_info=True, scope_info_enabled=False, registry=self.registry
        )
        self._provider = MeterProvider(
            resource=Resource.create({"service.name": "recon-bot"}),
            metric_readers=[self._reader],
            views=[
                View(
                    instrument_name="recon_signoff",
                    aggregation=ExplicitBucketHistogramAggregation(SIGNOFF_BUCKETS),
                ),
                View(
                    instrument_name="recon_slack_api_call",
                    aggregation=ExplicitBucketHistogramAggregation(SLACK_BUCKETS),
                ),
            ],
        )
        meter = self._provider.get_meter("recon_bot")
        self.gauges = DeskGauges()
        self._verified_at: float | None = None
        meter.create_observable_counter(
            "recon_routing_decisions",
            callbacks=[self._routed],
            description="Stored items by routing decision (route) and item kind.",
        )
        self.signoff = meter.create_histogram(
            "recon_signoff", unit="s", description="Time from routing to final sign-off."
        )
        self.rungs = meter.create_counter(
            "recon_sla_rungs", description="SLA ladder rungs fired (remind, escalate, dead_letter)."
        )
        self.digests = meter.create_counter("recon_digests_posted", description="Digests posted.")
        self.slack_calls = meter.create_counter(
            "recon_slack_api_calls", description="Slack Web API calls by method and outcome."
        )
        self.slack_latency = meter.create_histogram(
            "recon_slack_api_call", unit="s", description="Slack Web API call latency."
        )
        self.reconnects = meter.create_counter(
            "recon_socket_mode_reconnects", description="Socket Mode connections opened again."
        )
        self.audit_records = meter.create_counter(
            "recon_audit_records_appended", description="Audit records committed."
        )
        self.rows = meter.create_counter(
            "recon_ingest_rows", description="Ingest and import rows by source kind and outcome."
        )
        self.imports = meter.create_counter(
            "recon_import_rows",
            description="Rows of imports (statements of bank files) by source and outcome.",
        )
        self.inbox = meter.create_counter(
            "recon_inbox_interactions",
            description=(
                "Interactions through the durable inbox by event (stored, unstored, "
                "duplicate, adopted, abandoned, taken_over) and kind."
            ),
        )
        meter.create_observable_gauge(
            "recon_queue_depth",
            callbacks=[self._queue],
            description="Open items by priority band and review state.",
        )
        meter.create_observable_gauge(
            "recon_outbox_depth",
            callbacks=[self._outbox],
            description="Outbox rows waiting or in flight, by destination.",
        )
        meter.create_observable_gauge(
            "recon_outbox_dead_letters",
            callbacks=[self._dead],
            description="Outbox rows given up on (dead letters), by destination.",
        )
        meter.create_observable_gauge(
            "recon_circuit_breaker_state",
            callbacks=[self._breakers],
            description="Breaker state per sink: 0 closed, 1 half-open, 2 open.",
        )
        meter.create_observable_gauge(
            "recon_audit_last_verified_timestamp",
            unit="s",
            callbacks=[self._verified],
            description="Unix time of the last successful audit verification.",
        )

    # -- the store's gauges (set by the collector, read at scrape) --

    def update(self, gauges: DeskGauges) -> None:
        """Replaces the last reading of the store."""
        self.gauges = gauges

    def _queue(self, options: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(n, {"priority": band, "state": state})
            for (band, state), n in sorted(self.gauges.queue.items())
        ]

    def _routed(self, options: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(n, {"route": route, "kind": kind})
            for (route, kind), n in sorted(self.gauges.routed.items())
        ]

    def _outbox(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(n, {"destination": d}) for d, n in sorted(self.gauges.outbox.items())]

    def _dead(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(n, {"destination": d}) for d, n in sorted(self.gauges.dead.items())]

    def _breakers(self, options: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(BREAKER_LEVEL[state], {"sink": name})
            for name, state in sorted(self.gauges.breakers.items())
        ]

    def _verified(self, options: CallbackOptions) -> Iterable[Observation]:
        return [] if self._verified_at is None else [Observation(self._verified_at)]

    # -- events --

    def audit_verified(self, at: float) -> None:
        """A verification of the audit log succeeded at Unix time ``at``."""
        self._verified_at = at

    def slack_call(self, *, method: str, outcome: str, seconds: float) -> None:
        """One Slack Web API call (``outcome``: ok, or Slack's error code, or the
        exception's class)."""
        self.slack_calls.add(1, {"method": method, "outcome": outcome})
        self.slack_latency.record(seconds, {"method": method})

    def audited(self, entries: Sequence[AuditEntry]) -> None:
        """Counts what committed audit records say: ladder rungs and digests posted."""
        self.audit_records.add(len(entries))
        for entry in entries:
            if entry.event in _RUNGS and entry.actor == "system":
                self.rungs.add(1, {"rung": _RUNGS[entry.event]})
            elif entry.event == "digest.posted":
                self.digests.add(1)

    def ingested(self, rows: dict[str, int]) -> None:
        """Adds one finished ingest run's rows by outcome."""
        for outcome, n in rows.items():
            if n:
                self.rows.add(n, {"outcome": outcome})

    def import_rows(self, *, source: str, outcome: str, rows: int) -> None:
        """Adds ``rows`` rows of an import from ``source`` that ended in ``outcome``."""
        if rows:
            self.imports.add(rows, {"source": source, "outcome": outcome})

    def inbox_event(self, event: str, kind: str) -> None:
        """One interaction's passage through the durable inbox (``store.inbox``)."""
        self.inbox.add(1, {"event": event, "kind": kind})

    def scrape(self) -> bytes:
        """The Prometheus text exposition of every metric now."""
        return generate_latest(self.registry)

    def shutdown(self) -> None:
        """Stops the meter provider (no further collections)."""
        self._provider.shutdown()
