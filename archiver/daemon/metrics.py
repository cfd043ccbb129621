"""Prometheus metrics on 127.0.0.1 (daemon.metrics_port): captures (by outcome, so failures
too), requests, WARCs stored, capture durations, queue depth, last cycle duration, open alerts.

A registry of its own per daemon (not the process-global one), so a test can start two.
Counters follow the captures this worker finished; the gauges are read from the catalog when
scraped (queue depth: accounts due now; alerts: open per kind).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from archiver.app import App
from archiver.catalog import daemon_tables as dt
from archiver.catalog import tables as t
from archiver.daemon.leases import due_filter
from archiver.daemon.worker import Worker
from archiver.services.poll import RunReport


class _CatalogGauges(Collector):
    def __init__(self, app: App, worker: Worker) -> None:
        self.app, self.worker = app, worker

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = self.app.clock.now()
        interval = timedelta(minutes=self.app.settings.daemon.poll_interval_minutes)
        with self.app.catalog.session() as s:
            due = s.scalar(select(func.count()).select_from(t.Account).where(*due_filter(now, interval))) or 0
            open_by_kind = dict(s.execute(select(dt.Alert.kind, func.count()).where(dt.Alert.cleared_at.is_(None))
                                          .group_by(dt.Alert.kind)).all())
        queue = GaugeMetricFamily("archiver_queue_depth", "Accounts due for capture and not yet claimed")
        queue.add_metric([], due)
        yield queue
        running = GaugeMetricFamily("archiver_captures_running", "Captures under way in this worker")
        running.add_metric([], len(self.worker.running))
        yield running
        cycle = GaugeMetricFamily("archiver_last_cycle_seconds",
                                  "Wall time of this worker's last cycle (every due account captured)")
        if self.worker.last_cycle_seconds is not None:
            cycle.add_metric([], self.worker.last_cycle_seconds)
        yield cycle
        alerts = GaugeMetricFamily("archiver_alerts_open", "Open alerts", labels=["kind"])
        for kind, n in sorted(open_by_kind.items()):
            alerts.add_metric([kind], n)
        yield alerts


class Metrics:
    def __init__(self, app: App, worker: Worker) -> None:
        self.registry = CollectorRegistry()
        self.captures = Counter("archiver_captures", "Captures finished", ["platform", "status"],
                                registry=self.registry)
        self.requests = Counter("archiver_requests", "HTTP exchanges recorded", ["platform"], registry=self.registry)
        self.warcs = Counter("archiver_warcs_stored", "WARC files stored", ["platform"], registry=self.registry)
        self.duration = Histogram("archiver_capture_seconds", "Wall time of one account's capture", ["platform"],
                                  registry=self.registry, buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900))
        self.registry.register(_CatalogGauges(app, worker))

    def observe(self, report: RunReport) -> None:
        platform = report.account.split(":", 1)[0]
        self.captures.labels(platform, report.status).inc()
        self.requests.labels(platform).inc(report.exchanges)
        self.warcs.labels(platform).inc(len(report.warcs))
        self.duration.labels(platform).observe(sum(report.timings.values()))


class MetricsServer:
    def __init__(self, server: WSGIServer, thread: Any, metrics: Metrics) -> None:
        self.server, self.thread, self.metrics = server, thread, metrics

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def shutdown(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def serve_metrics(app: App, worker: Worker, port: int) -> MetricsServer:
    """Loopback only: put a reverse proxy with authentication in front to expose it."""
    metrics = Metrics(app, worker)
    previous = worker.on_report

    def on_report(report: RunReport) -> None:
        metrics.observe(report)
        if previous:
            previous(report)

    worker.on_report = on_report
    server, thread = start_http_server(port, addr="127.0.0.1", registry=metrics.registry)
    return MetricsServer(server, thread, metrics)
