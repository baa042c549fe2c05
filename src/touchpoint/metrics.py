"""Prometheus metrics. Counters are bumped where things happen; gauges are read from the database
when /metrics is scraped, so they are right whichever process did the work."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.webhooks = Counter("touchpoint_webhooks_received_total", "Webhook requests by channel and result",
                                ["channel", "result"], registry=self.registry)
        self.widget = Counter("touchpoint_widget_requests_total", "Widget requests by kind and result",
                              ["kind", "result"], registry=self.registry)
        self.messages = Gauge("touchpoint_messages", "Messages by direction and status",
                              ["direction", "status"], registry=self.registry)
        self.outbox_depth = Gauge("touchpoint_outbox_depth", "Outbox rows not yet finished", ["status"],
                                  registry=self.registry)
        self.inbound_depth = Gauge("touchpoint_inbound_depth", "Inbound events not yet processed", ["status"],
                                   registry=self.registry)
        self.dispatch_lag = Gauge("touchpoint_dispatcher_lag_seconds",
                                  "Age of the oldest due outbox row (0 when none is waiting)",
                                  registry=self.registry)
        self.inbound_lag = Gauge("touchpoint_inbound_lag_seconds",
                                 "Age of the oldest due inbound event (0 when none is waiting)",
                                 registry=self.registry)
        self.failed_events = Gauge("touchpoint_inbound_failed", "Inbound events that failed for good",
                                   registry=self.registry)
        self.ack_latency = Histogram("touchpoint_webhook_ack_seconds", "Time to acknowledge a webhook",
                                     ["channel"], registry=self.registry,
                                     buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5))
