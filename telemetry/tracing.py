"""Decision spans (the :class:`domain.ports.Telemetry` port) on OpenTelemetry.

Spans go to an OTLP endpoint when the standard ``OTEL_EXPORTER_OTLP_*`` variables name
one, and nowhere otherwise; tests pass an in-memory exporter.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.trace import Span, Status, StatusCode

from domain.ports import DecisionTrace, SpanValue
from telemetry.metrics import Metrics

_OTLP_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def otlp_configured(environ: Mapping[str, str]) -> bool:
    """Whether the environment names an OTLP endpoint for traces."""
    return any(environ.get(name) for name in _OTLP_VARIABLES)


class _Trace:
    def __init__(self, span: Span) -> None:
        self._span = span

    def record(self, attributes: Mapping[str, SpanValue]) -> None:
        self._span.set_attributes(dict(attributes))


class OtelTelemetry:
    """Spans for decisions and the sign-off histogram.

    Args:
        metrics: Where sign-off times go (None: no metrics, spans only).
        exporter: Where spans go, each as it ends (tests); None exports in batches to
            OTLP when ``OTEL_EXPORTER_OTLP_*`` name an endpoint, else nowhere.
    """

    def __init__(
        self,
        *,
        metrics: Metrics | None = None,
        exporter: SpanExporter | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.metrics = metrics
        self._provider = TracerProvider(resource=Resource.create({"service.name": "recon-bot"}))
        if exporter is not None:
            self._provider.add_span_processor(SimpleSpanProcessor(exporter))
        elif otlp_configured(os.environ if environ is None else environ):
            # Imported only when used: the exporter brings protobuf and requests with it.
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            self._provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        self._tracer = self._provider.get_tracer("recon_bot")

    @contextmanager
    def decision(self, action: str) -> Iterator[DecisionTrace]:
        """A span named ``recon.<action>`` around one decision; a refusal or failure
        sets its status to error (the exception's class, never its message)."""
        with self._tracer.start_as_current_span(
            f"recon.{action}", record_exception=False, set_status_on_exception=False
        ) as span:
            try:
                yield _Trace(span)
            except BaseException as exc:
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                raise

    def signed_off(self, *, kind: str, seconds: float) -> None:
        """Observes the time from routing to final sign-off."""
        if self.metrics is not None:
            self.metrics.signoff.record(seconds, {"kind": kind})

    def imported(self, *, source: str, outcome: str, rows: int) -> None:
        """Counts import rows by source and outcome."""
        if self.metrics is not None:
            self.metrics.import_rows(source=source, outcome=outcome, rows=rows)

    def shutdown(self) -> None:
        """Flushes and stops span export."""
        self._provider.shutdown()
