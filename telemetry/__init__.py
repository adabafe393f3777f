"""Metrics (OpenTelemetry, exported in Prometheus text format), decision spans and the
health listener. An adapter: it depends on ``domain`` only; ``bot`` wires it in."""
