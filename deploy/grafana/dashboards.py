"""Generate the provisioned Grafana dashboards from one readable specification.

    uv run python deploy/grafana/dashboards.py           # write deploy/grafana/dashboards/*.json
    uv run python deploy/grafana/dashboards.py --check   # fail when a committed file is stale

Each panel is (title, description, unit, kind, [(PromQL, legend)]). Panels are laid out two
per row. The datasource is the provisioned Prometheus (uid ``prometheus``). Titles are
Vietnamese first with the English after a slash, as the operators read them.

Links open the console where an operator acts on what a panel shows: each dashboard links
its console screens (top right), and panels by unit or campaign carry data links to that
unit's cases or live board, or that campaign's page. They start with ``${console}``, a
hidden constant variable holding the console's address as the operators' browsers reach
it (``CONSOLE``, docker-compose's ``SIPAS_CONSOLE_PUBLIC_URL`` default; set it in the
dashboard's variables, or generate with ``--console-url https://...`` for another one).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
OUT = Path(__file__).resolve().parent / "dashboards"
CONSOLE = "http://localhost:8080"
Link = tuple[str, str]
"""(title, URL): a link to a console page; the URL starts with ``${console}``."""


@dataclass(frozen=True)
class Panel:
    """One panel: what it shows and how."""

    title: str
    description: str
    unit: str
    queries: list[tuple[str, str]]
    kind: str = "timeseries"  # timeseries | bargauge | table | stat
    decimals: int | None = None
    links: tuple[Link, ...] = ()  # data links; ${__field.labels.<label>} names a series' label


@dataclass(frozen=True)
class Dashboard:
    """A dashboard and its template variables (label_values queries)."""

    uid: str
    title: str
    description: str
    panels: list[Panel]
    variables: dict[str, str] = field(default_factory=dict)
    links: tuple[Link, ...] = ()  # the console screens this dashboard is about


def _target(i: int, expr: str, legend: str, kind: str) -> dict[str, object]:
    target: dict[str, object] = {
        "refId": chr(ord("A") + i),
        "datasource": DATASOURCE,
        "expr": expr,
        "legendFormat": legend,
    }
    if kind == "timeseries":
        target["range"] = True
    else:
        target["instant"] = True
        if kind == "table":
            target["format"] = "table"
    return target


def _panel(index: int, panel: Panel) -> dict[str, object]:
    defaults: dict[str, object] = {"unit": panel.unit, "min": 0}
    if panel.decimals is not None:
        defaults["decimals"] = panel.decimals
    if panel.links:
        defaults["links"] = [{"title": t, "url": u, "targetBlank": True} for t, u in panel.links]
    if panel.kind == "timeseries":
        defaults["custom"] = {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 10,
            "showPoints": "never",
        }
    options: dict[str, object] = {}
    if panel.kind == "timeseries":
        options = {
            "legend": {
                "displayMode": "table",
                "placement": "bottom",
                "showLegend": True,
                "calcs": ["lastNotNull", "max"],
            },
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
    elif panel.kind == "bargauge":
        options = {
            "orientation": "horizontal",
            "displayMode": "basic",
            "showUnfilled": True,
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        }
    elif panel.kind == "stat":
        options = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}}
    return {
        "id": index + 1,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": 8, "w": 12, "x": 12 * (index % 2), "y": 8 * (index // 2)},
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": options,
        "targets": [
            _target(i, expr, legend, panel.kind) for i, (expr, legend) in enumerate(panel.queries)
        ],
    }


def _variable(name: str, query: str) -> dict[str, object]:
    return {
        "name": name,
        "label": name,
        "type": "query",
        "datasource": DATASOURCE,
        "query": {"query": query, "refId": f"{name}-values"},
        "definition": query,
        "refresh": 2,
        "includeAll": True,
        "allValue": ".*",
        "multi": True,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "sort": 1,
    }


def _console_variable(url: str) -> dict[str, object]:
    return {
        "name": "console",
        "label": "console",
        "type": "constant",
        "hide": 2,
        "query": url,
        "current": {"selected": False, "text": url, "value": url},
        "description": "The console's address as the operators' browsers reach it.",
    }


def _dashboard_link(title: str, url: str) -> dict[str, object]:
    return {
        "title": title,
        "type": "link",
        "url": url,
        "icon": "external link",
        "targetBlank": True,
        "tooltip": title,
        "asDropdown": False,
        "includeVars": False,
        "keepTime": False,
        "tags": [],
    }


def render(dashboard: Dashboard, console: str = CONSOLE) -> dict[str, object]:
    """The Grafana JSON model of a dashboard (``console``: the console's address)."""
    variables = [_variable(n, q) for n, q in dashboard.variables.items()]
    return {
        "uid": dashboard.uid,
        "title": dashboard.title,
        "description": dashboard.description,
        "tags": ["sipas"],
        "timezone": "browser",
        "editable": False,
        "graphTooltip": 1,
        "refresh": "30s",
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-24h", "to": "now"},
        "timepicker": {},
        "templating": {"list": [_console_variable(console), *variables]},
        "annotations": {"list": []},
        "links": [_dashboard_link(title, url) for title, url in dashboard.links],
        "panels": [_panel(i, p) for i, p in enumerate(dashboard.panels)],
    }


UNIT = 'unit=~"$unit"'
CAMPAIGN = 'campaign=~"$campaign"'
SERIES_UNIT, SERIES_CAMPAIGN = "${__field.labels.unit}", "${__field.labels.campaign}"
CONSOLE_HOME = ("Bảng điều khiển / SIPAS console", "${console}/")
CAMPAIGNS = ("Đợt khảo sát / campaigns", "${console}/campaigns")
PUBLICATIONS = ("Công bố kết quả / publications", "${console}/publications")
CASE_INBOX = ("Hộp vụ việc / case inbox", "${console}/cases")
CASE_BOARD = ("Bảng vụ việc của tỉnh / province case board", "${console}/board")
UNIT_CASES = ("Vụ việc của đơn vị / the unit's cases", f"${{console}}/cases?unit={SERIES_UNIT}")
UNIT_BOARD = (
    "Bảng kết quả trực tiếp của đơn vị / the unit's live board",
    f"${{console}}/live/board/{SERIES_UNIT}",
)
CAMPAIGN_PAGE = (
    "Trang đợt khảo sát / the campaign's page",
    f"${{console}}/campaigns/{SERIES_CAMPAIGN}",
)
NAMES = "max by (unit, name) (sipas_scoring_unit_info)"
LEAVES = 'max by (unit, name) (sipas_scoring_unit_info{tier=~"commune|department"})'


def named(expr: str, names: str = NAMES) -> str:
    """``expr`` with each series' unit name, joined from the one-series-per-unit lookup.

    The name is not a label of the measurements themselves (renaming a unit would start
    new series); ``max by`` keeps the join one-to-one when several scoring instances run.
    """
    return f"({expr}) * on(unit) group_left(name) {names}"


FUNNEL = Dashboard(
    uid="sipas-funnel",
    title="SIPAS Live — phễu khảo sát / survey funnel",
    description="From completed dossiers to recorded responses, by unit and channel.",
    variables={"unit": "label_values(sipas_intake_accepted_dossiers_total, unit)"},
    links=(CONSOLE_HOME, CAMPAIGNS),
    panels=[
        Panel(
            "Hồ sơ đã nhận theo đơn vị / dossiers accepted by unit (24h)",
            "Completed dossiers intake accepted (first reports and corrections).",
            "short",
            [
                (
                    named(
                        f"sum by (unit) (increase(sipas_intake_accepted_dossiers_total{{{UNIT}}}[24h]))"
                    ),
                    "{{name}}",
                )
            ],
            kind="bargauge",
            decimals=0,
            links=(UNIT_BOARD,),
        ),
        Panel(
            "Bản ghi hồ sơ theo kết quả / dossier records by outcome",
            "accepted, corrected, duplicate, stale, replayed, not_completed, rejected.",
            "ops",
            [("sum by (outcome) (rate(sipas_intake_dossiers_total[5m]))", "{{outcome}}")],
        ),
        Panel(
            "Hồ sơ bị từ chối theo lý do / rejected records by reason (24h)",
            "Records that could not be accepted; each is on the DLQ with its reason.",
            "short",
            [
                (
                    "sum by (entry, reason) (increase(sipas_intake_dossier_rejections_total[24h]))",
                    "{{entry}} {{reason}}",
                )
            ],
            kind="bargauge",
            decimals=0,
        ),
        Panel(
            "Quyết định chọn mẫu / sampling decisions (24h)",
            "Every decision with its outcome: invited, not drawn, excluded, quota full...",
            "short",
            [
                (
                    f"sum by (outcome) (increase(sipas_sampling_decisions_total{{{UNIT}}}[24h]))",
                    "{{outcome}}",
                )
            ],
            kind="bargauge",
            decimals=0,
        ),
        Panel(
            "Lời mời theo kênh / invitations by channel (24h)",
            "Invitations created (first invitation; reminders are counted in deliveries).",
            "short",
            [
                (
                    f"sum by (channel) (increase(sipas_sampling_invitations_total{{{UNIT}}}[24h]))",
                    "{{channel}}",
                )
            ],
            kind="bargauge",
            decimals=0,
        ),
        Panel(
            "Gửi tin theo kênh và trạng thái / deliveries by channel and status",
            "sent = accepted by the provider; retryable, permanent (fall back), unknown.",
            "ops",
            [
                (
                    "sum by (channel, status) (rate(sipas_sampling_deliveries_total[5m]))",
                    "{{channel}} {{status}}",
                )
            ],
        ),
        Panel(
            "Phiếu trả lời theo hình thức / responses by collection mode (24h)",
            "Recorded responses: online link, kiosk, face to face, phone, paper.",
            "short",
            [
                (
                    'sum by (mode) (increase(sipas_intake_responses_total{outcome="recorded"}[24h]))',
                    "{{mode}}",
                )
            ],
            kind="bargauge",
            decimals=0,
        ),
        Panel(
            "Tỷ lệ phản hồi theo đơn vị / response rate by unit (7 days)",
            "Responses counted by scoring ÷ invitations (official and continuous lists) over 7 days.",
            "percentunit",
            [
                (
                    named(
                        f"sum by (unit) (delta(sipas_scoring_responses{{{UNIT}}}[7d])) "
                        f'/ sum by (unit) (increase(sipas_sampling_invitations_total{{{UNIT}, list!="reserve"}}[7d]))'
                    ),
                    "{{name}}",
                )
            ],
            kind="bargauge",
            decimals=1,
        ),
    ],
)

INDEX = Dashboard(
    uid="sipas-index",
    title="SIPAS Live — chỉ số hài lòng / live index",
    description="Latest whole-campaign SIPAS per unit with its 95% interval, and response counts.",
    variables={"campaign": "label_values(sipas_scoring_responses, campaign)"},
    links=(CONSOLE_HOME, CAMPAIGNS, PUBLICATIONS),
    panels=[
        Panel(
            "Chỉ số SIPAS theo đơn vị / SIPAS by unit",
            "Latest whole-campaign SIPAS (share satisfied, %) of every unit with enough "
            "respondents to be ranked (the campaign's threshold), by name.",
            "percent",
            [
                (
                    named(
                        f"sipas_scoring_sipas_percent{{{CAMPAIGN}}} and on(campaign, unit) "
                        f"sipas_scoring_sipas_sufficient{{{CAMPAIGN}}} == 1"
                    ),
                    "{{name}}",
                )
            ],
            kind="bargauge",
            decimals=2,
            links=(CAMPAIGN_PAGE, UNIT_BOARD, UNIT_CASES),
        ),
        Panel(
            "Khoảng tin cậy 95% / 95% interval",
            "Lower and upper bound of each unit's SIPAS.",
            "percent",
            [
                (named(f"sipas_scoring_sipas_ci_low_percent{{{CAMPAIGN}}}"), "{{name}} thấp / low"),
                (
                    named(f"sipas_scoring_sipas_ci_high_percent{{{CAMPAIGN}}}"),
                    "{{name}} cao / high",
                ),
            ],
            kind="table",
            decimals=2,
        ),
        Panel(
            "Mọi đơn vị cấp xã, sở ngành / every commune and department",
            "SIPAS of every leaf unit with answers, ranked or not (sufficient = 1 when it has "
            "the respondents the campaign needs), and the responses counted.",
            "short",
            [
                (named(f"sipas_scoring_sipas_percent{{{CAMPAIGN}}}", LEAVES), "SIPAS {{name}}"),
                (named(f"sipas_scoring_sipas_sufficient{{{CAMPAIGN}}}", LEAVES), "đủ / sufficient"),
                (named(f"sipas_scoring_responses{{{CAMPAIGN}}}", LEAVES), "phiếu / responses"),
            ],
            kind="table",
            decimals=2,
        ),
        Panel(
            "Số phiếu được tính / responses counted by unit",
            "Responses in each unit's whole-campaign index (kiosk kept apart).",
            "short",
            [(named(f"sipas_scoring_responses{{{CAMPAIGN}}}"), "{{name}}")],
            kind="bargauge",
            decimals=0,
            links=(CAMPAIGN_PAGE, UNIT_BOARD),
        ),
        Panel(
            "Cập nhật chỉ số / index updates per second",
            "index-updated events published, by period kind (debounced).",
            "ops",
            [
                (
                    "sum by (period_kind) (rate(sipas_scoring_index_updates_total[5m]))",
                    "{{period_kind}}",
                )
            ],
        ),
        Panel(
            "Độ trễ chỉ số p99 / index lag p99",
            "Time from the newest counted response to its index-updated event.",
            "s",
            [
                (
                    "histogram_quantile(0.99, sum by (le) (rate(sipas_scoring_index_lag_seconds_bucket[5m])))",
                    "p99",
                )
            ],
        ),
        Panel(
            "Tuổi sự kiện khi xử lý p99 / event age at commit p99",
            "Age of events when each consumer committed their effect.",
            "s",
            [
                (
                    "histogram_quantile(0.99, sum by (le, service) (rate(sipas_event_age_seconds_bucket[5m])))",
                    "{{service}}",
                )
            ],
        ),
    ],
)

CASES = Dashboard(
    uid="sipas-cases",
    title="SIPAS Live — cảnh báo và vụ việc / alerts and cases",
    description="Negative feedback routed to units as cases, with SLA status and escalation.",
    links=(CONSOLE_HOME, CASE_INBOX, CASE_BOARD),
    panels=[
        Panel(
            "Cảnh báo theo quy tắc / alerts by rule (24h)",
            "Alerts raised, by rule.",
            "short",
            [("sum by (rule) (increase(sipas_alerts_alerts_raised_total[24h]))", "{{rule}}")],
            kind="bargauge",
            decimals=0,
        ),
        Panel(
            "Vụ việc mở theo đơn vị / cases opened by unit (7 days)",
            "New cases per unit.",
            "short",
            [("sum by (unit) (increase(sipas_alerts_cases_opened_total[7d]))", "{{unit}}")],
            kind="bargauge",
            decimals=0,
            links=(UNIT_CASES,),
        ),
        Panel(
            "Vụ việc đang xử lý theo trạng thái / open cases by state",
            "open, acknowledged, in_progress, resolved (awaiting closure).",
            "short",
            [("sum by (state) (sipas_alerts_active_cases)", "{{state}}")],
            kind="stat",
            decimals=0,
            links=(CASE_BOARD,),
        ),
        Panel(
            "Vụ việc quá hạn / overdue cases",
            "Cases past a deadline right now.",
            "short",
            [("sum(sipas_alerts_overdue_cases)", "quá hạn / overdue")],
            kind="stat",
            decimals=0,
            links=(CASE_BOARD,),
        ),
        Panel(
            "Vi phạm thời hạn / SLA breaches (7 days)",
            "Missed acknowledge and resolve deadlines.",
            "short",
            [("sum by (kind) (increase(sipas_alerts_sla_breaches_total[7d]))", "{{kind}}")],
            kind="bargauge",
            decimals=0,
        ),
        Panel(
            "Chuyển cấp trên / escalations (7 days)",
            "Escalations to the supervising agencies.",
            "short",
            [("sum by (agency) (increase(sipas_alerts_escalations_total[7d]))", "{{agency}}")],
            kind="bargauge",
            decimals=0,
            links=(CASE_BOARD,),
        ),
        Panel(
            "Thời gian tiếp nhận p90 / time to acknowledge p90",
            "Working time to acknowledge a case.",
            "s",
            [
                (
                    "histogram_quantile(0.9, sum by (le) (rate(sipas_alerts_time_to_acknowledge_seconds_bucket[7d])))",
                    "p90",
                )
            ],
            kind="stat",
        ),
        Panel(
            "Thời gian xử lý p90 / time to resolve p90",
            "Working time to resolve a case.",
            "s",
            [
                (
                    "histogram_quantile(0.9, sum by (le) (rate(sipas_alerts_time_to_resolve_seconds_bucket[7d])))",
                    "p90",
                )
            ],
            kind="stat",
        ),
        Panel(
            "Thông báo theo kênh và trạng thái / notifications (24h)",
            "Notifications to units and agencies: sent, failed, skipped (channel not configured).",
            "short",
            [
                (
                    "sum by (channel, status) (increase(sipas_alerts_notifications_total[24h]))",
                    "{{channel}} {{status}}",
                )
            ],
            kind="bargauge",
            decimals=0,
        ),
        Panel(
            "Vụ việc đóng theo kết quả / cases closed by outcome (7 days)",
            "closed or dismissed.",
            "short",
            [("sum by (outcome) (increase(sipas_alerts_cases_closed_total[7d]))", "{{outcome}}")],
            kind="bargauge",
            decimals=0,
        ),
    ],
)

HEALTH = Dashboard(
    uid="sipas-system-health",
    title="SIPAS Live — system health",
    description="Liveness, throughput, lag, dead letters, latency and resources of the four SIPAS services.",
    links=(CONSOLE_HOME,),
    panels=[
        Panel(
            "Targets up",
            "1 = Prometheus scraped every target of the job on its last attempt.",
            "short",
            [("min by (job) (up)", "{{job}}")],
            decimals=0,
        ),
        Panel(
            "Events consumed per second",
            "By service and outcome (applied, duplicate, dead_lettered).",
            "ops",
            [
                (
                    "sum by (service, outcome) (rate(sipas_events_consumed_total[5m]))",
                    "{{service}} {{outcome}}",
                )
            ],
        ),
        Panel(
            "Consumer pending messages (lag)",
            "Messages in the stream not yet delivered to each consumer.",
            "short",
            [("sum by (service, consumer) (sipas_consumer_pending_messages)", "{{consumer}}")],
            decimals=0,
        ),
        Panel(
            "Redeliveries per second",
            "Messages received more than once (crashes, timeouts, naks).",
            "ops",
            [("sum by (service) (rate(sipas_redeliveries_total[5m]))", "{{service}}")],
        ),
        Panel(
            "Dead letters kept (DLQ size)",
            "Messages each service set aside on SIPAS_DLQ.",
            "short",
            [("sum by (service) (sipas_dlq_stream_messages)", "{{service}}")],
            decimals=0,
        ),
        Panel(
            "Dead letters (last hour)",
            "New dead letters by service and reason kind.",
            "short",
            [
                (
                    "sum by (service, reason) (increase(sipas_dlq_messages_total[1h]))",
                    "{{service}} {{reason}}",
                )
            ],
        ),
        Panel(
            "Handler latency p99",
            "Time to process one batch, fetch to ack.",
            "s",
            [
                (
                    "histogram_quantile(0.99, sum by (le, service) (rate(sipas_handler_duration_seconds_bucket[5m])))",
                    "{{service}}",
                )
            ],
        ),
        Panel(
            "HTTP requests per second",
            "By service and status code.",
            "reqps",
            [
                (
                    "sum by (service, status) (rate(sipas_http_requests_total[5m]))",
                    "{{service}} {{status}}",
                )
            ],
        ),
        Panel(
            "Transient errors (last hour)",
            "Database or broker errors retried in place; and batches retried because "
            "several instances of a consumer changed its applied sequences in turn.",
            "short",
            [
                ("sum by (service) (increase(sipas_transient_errors_total[1h]))", "{{service}}"),
                (
                    "sum by (service) (increase(sipas_consumer_stale_applied_sets_total[1h]))",
                    "{{service}} stale applied sets",
                ),
            ],
            decimals=0,
        ),
        Panel(
            "CPU per process",
            "CPU seconds per second, largest process per job.",
            "percentunit",
            [("max by (job) (rate(process_cpu_seconds_total[5m]))", "{{job}}")],
        ),
        Panel(
            "Resident memory (largest process per job)",
            "Target: < 150 MB per service.",
            "bytes",
            [("max by (job) (process_resident_memory_bytes)", "{{job}}")],
        ),
    ],
)

DASHBOARDS = (FUNNEL, INDEX, CASES, HEALTH)
FILES = {
    "sipas-funnel": "survey-funnel.json",
    "sipas-index": "live-index.json",
    "sipas-cases": "alerts-cases.json",
    "sipas-system-health": "system-health.json",
}


def rendered(console: str = CONSOLE) -> dict[Path, str]:
    """File path -> JSON text of every dashboard."""
    return {
        OUT / FILES[d.uid]: json.dumps(render(d, console), indent=2, ensure_ascii=False) + "\n"
        for d in DASHBOARDS
    }


def main() -> int:
    """Write the files, or with --check report stale ones (exit 1)."""
    args = sys.argv[1:]
    console = args[args.index("--console-url") + 1] if "--console-url" in args else CONSOLE
    files = rendered(console.rstrip("/"))
    if "--check" in sys.argv:
        stale = [p.name for p, text in files.items() if not p.is_file() or p.read_text() != text]
        if stale:
            print(
                f"stale dashboards: {', '.join(stale)}; run: uv run python deploy/grafana/dashboards.py"
            )
            return 1
        print("dashboards are current")
        return 0
    OUT.mkdir(exist_ok=True)
    for path, text in files.items():
        path.write_text(text)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
