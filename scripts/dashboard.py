#!/usr/bin/env python3
"""Writes the Grafana dashboard, charts/aws-multi-eni-controller/files/dashboard.json.

    python3 scripts/dashboard.py > charts/aws-multi-eni-controller/files/dashboard.json

The panels are listed once below; every query filters on the dashboard's variables
(data source, cluster, job, namespace, and NodeENI or node where a panel is per NodeENI
or per node). The chart renames the `cluster` label to `monitoring.dashboards.clusterLabel`.
Only core panel types (row, timeseries, stat) and schema version 39, so that Grafana 10,
11 and 12 import it as is. tests/chart.rs checks the file for drift against this script;
tests/e2e/prometheus.rs runs every query on a real Prometheus.
"""

import json
import sys

DS = {"type": "prometheus", "uid": "${datasource}"}
# What every query filters on.
S = 'cluster=~"$cluster", job=~"$job", namespace=~"$namespace"'
NODEENI = S + ', nodeeni=~"$nodeeni"'
NODE = S + ', node=~"$node"'


def q(expr, legend):
    return (expr, legend)


# (row title, [(panel type, title, description, unit, width, [(expr, legend)])])
ROWS = [
    ("Overview", [
        ("stat", "Running versions", "Replicas and agents per component and version: more than one version is a rollout in progress, or version skew.", "short", 6, [
            q(f"count by (component, version) (aws_multi_eni_build_info{{{S}}})", "{{component}} {{version}}"),
        ]),
        ("timeseries", "Leader", "1 for the replica that holds the leader Lease; exactly one should.", "short", 6, [
            q(f"max by (instance, pod) (aws_multi_eni_leader{{{S}}})", "{{pod}} {{instance}}"),
        ]),
        ("timeseries", "Selected nodes by readiness", "Nodes that NodeENIs select, by their ENIsReady condition: ready, pending (ENIs on their way), blocked.", "short", 6, [
            q(f"max by (state) (aws_multi_eni_selected_nodes{{{S}}})", "{{state}}"),
        ]),
        ("stat", "Panics", "Panics in the time range, per job. Each is a bug (AwsMultiEniPanics).", "short", 6, [
            q(f"sum by (job) (increase(aws_multi_eni_panics_total{{{S}}}[$__range]))", "{{job}}"),
        ]),
    ]),
    ("ENIs", [
        ("timeseries", "Desired vs ready ENIs per NodeENI", "ENI slots (node x subnet) each NodeENI wants, has attached, and cannot attach (blocked).", "short", 12, [
            q(f'max by (nodeeni) (aws_multi_eni_slots{{{NODEENI}, state="desired"}})', "{{nodeeni}} desired"),
            q(f'max by (nodeeni) (aws_multi_eni_slots{{{NODEENI}, state="ready"}})', "{{nodeeni}} ready"),
            q(f'max by (nodeeni) (aws_multi_eni_slots{{{NODEENI}, state="failed"}})', "{{nodeeni}} blocked"),
        ]),
        ("timeseries", "Label to attached latency", "From a node matching a NodeENI to its ENI attached, and to its create call issued.", "s", 12, [
            q(f"histogram_quantile(0.5, sum by (le) (rate(aws_multi_eni_attach_latency_seconds_bucket{{{S}}}[$__rate_interval])))", "attached p50"),
            q(f"histogram_quantile(0.99, sum by (le) (rate(aws_multi_eni_attach_latency_seconds_bucket{{{S}}}[$__rate_interval])))", "attached p99"),
            q(f"histogram_quantile(0.99, sum by (le) (rate(aws_multi_eni_label_to_create_seconds_bucket{{{S}}}[$__rate_interval])))", "create issued p99"),
        ]),
        ("timeseries", "NodeENIs Degraded", "1 while a NodeENI's Degraded condition is True (AwsMultiEniNodeENIDegraded).", "short", 8, [
            q(f"max by (nodeeni) (aws_multi_eni_nodeeni_degraded{{{NODEENI}}})", "{{nodeeni}}"),
        ]),
        ("timeseries", "Reconcile errors", "Errors while resolving and reconciling NodeENIs, by error.", "ops", 8, [
            q(f"sum by (error) (rate(aws_multi_eni_reconcile_errors_total{{{S}}}[$__rate_interval]))", "{{error}}"),
        ]),
        ("timeseries", "Events", "Kubernetes Events the controller recorded, failed to record, or dropped.", "ops", 8, [
            q(f"sum by (outcome) (rate(aws_multi_eni_events_total{{{S}}}[$__rate_interval]))", "{{outcome}}"),
        ]),
    ]),
    ("EC2", [
        ("timeseries", "EC2 calls by action and outcome", "Every EC2 call, by action and outcome (ok or the error label).", "reqps", 12, [
            q(f"sum by (action, outcome) (rate(aws_multi_eni_ec2_calls_total{{{S}}}[$__rate_interval]))", "{{action}} {{outcome}}"),
        ]),
        ("timeseries", "EC2 calls refused, by action and outcome", "EC2 calls that did not succeed: unauthorized (IAM, AwsMultiEniEc2Unauthorized), throttled, fenced, not_found, ...", "reqps", 12, [
            q(f'sum by (action, outcome) (rate(aws_multi_eni_ec2_calls_total{{{S}, outcome!="ok"}}[$__rate_interval]))', "{{action}} {{outcome}}"),
        ]),
        ("timeseries", "EC2 throttles by action", "Calls EC2 answered with a throttling error (AwsMultiEniEc2Throttled).", "reqps", 12, [
            q(f"sum by (action) (rate(aws_multi_eni_ec2_throttles_total{{{S}}}[$__rate_interval]))", "{{action}}"),
        ]),
        ("timeseries", "Rate-limit token wait (p99) by action", "How long calls waited for the client-side rate limiter.", "s", 12, [
            q(f"histogram_quantile(0.99, sum by (action, le) (rate(aws_multi_eni_ec2_token_wait_seconds_bucket{{{S}}}[$__rate_interval])))", "{{action}}"),
        ]),
        ("timeseries", "Client rate by action", "The share of EC2's refill the controller keeps to, per action.", "reqps", 8, [
            q(f"max by (action) (aws_multi_eni_ec2_rate_limit_per_second{{{S}}})", "{{action}}"),
        ]),
        ("timeseries", "Calls waiting for a token", "Calls waiting for the rate limiter, per action: a backlog that EC2's pace bounds.", "short", 8, [
            q(f"max by (action) (aws_multi_eni_ec2_token_waiters{{{S}}})", "{{action}}"),
        ]),
        ("timeseries", "Fence: EC2 calls refused unsent", "Calls a replica refused before sending because it had not renewed its Lease in time (AwsMultiEniFenced), and leadership terms started.", "short", 8, [
            q(f'sum by (action) (increase(aws_multi_eni_ec2_calls_total{{{S}, outcome="fenced"}}[$__rate_interval]))', "fenced {{action}}"),
            q(f"sum by (instance) (increase(aws_multi_eni_leader_terms_total{{{S}}}[$__rate_interval]))", "terms started {{instance}}"),
        ]),
        ("timeseries", "EC2 call duration (p99) by action", "EC2's answer time per action.", "s", 24, [
            q(f"histogram_quantile(0.99, sum by (action, le) (rate(aws_multi_eni_ec2_call_duration_seconds_bucket{{{S}}}[$__rate_interval])))", "{{action}}"),
        ]),
    ]),
    ("Cleanup and health", [
        ("timeseries", "Cleanup queue", "ENIs waiting for a cleanup worker.", "short", 6, [
            q(f"max(aws_multi_eni_cleanup_queue_depth{{{S}}})", "waiting"),
        ]),
        ("timeseries", "Cleanups by outcome", "ENIs detached and deleted, failed, or refused (not this cluster's) (AwsMultiEniCleanupFailing).", "ops", 6, [
            q(f"sum by (outcome) (rate(aws_multi_eni_cleanups_total{{{S}}}[$__rate_interval]))", "{{outcome}}"),
        ]),
        ("timeseries", "Cleanup duration", "Time to detach and delete one ENI.", "s", 6, [
            q(f"histogram_quantile(0.5, sum by (le) (rate(aws_multi_eni_cleanup_duration_seconds_bucket{{{S}}}[$__rate_interval])))", "p50"),
            q(f"histogram_quantile(0.99, sum by (le) (rate(aws_multi_eni_cleanup_duration_seconds_bucket{{{S}}}[$__rate_interval])))", "p99"),
        ]),
        ("stat", "Orphans", "Owned ENIs the sweeps found orphaned, and those deleted after the grace period, in the time range.", "short", 6, [
            q(f"sum(increase(aws_multi_eni_orphans_found_total{{{S}}}[$__range]))", "found"),
            q(f"sum(increase(aws_multi_eni_orphans_deleted_total{{{S}}}[$__range]))", "deleted"),
        ]),
        ("timeseries", "ENIs left alone", "ENIs with this cluster's name the sweep does not touch, by reason: other_cluster_id is a namesake cluster (AwsMultiEniNamesakeENIs).", "short", 8, [
            q(f"max by (reason) (aws_multi_eni_untouched_enis{{{S}}})", "{{reason}}"),
        ]),
        ("timeseries", "Actor restarts by kind", "Supervised actors restarted after a failure (AwsMultiEniActorRestartStorm).", "short", 8, [
            q(f"sum by (kind) (increase(aws_multi_eni_actor_restarts_total{{{S}}}[$__rate_interval]))", "{{kind}}"),
        ]),
        ("timeseries", "Kubernetes watch events", "Watch events and errors by resource (AwsMultiEniWatchFailing), and whether the leader's watches have listed (AwsMultiEniWatchNotSynced).", "short", 8, [
            q(f"sum by (resource, event) (rate(aws_multi_eni_kube_watch_events_total{{{S}}}[$__rate_interval]))", "{{resource}} {{event}}/s"),
            q(f"sum by (resource) (rate(aws_multi_eni_kube_watch_errors_total{{{S}}}[$__rate_interval]))", "{{resource}} errors/s"),
            q(f"max by (resource) (aws_multi_eni_kube_watch_synced{{{S}}})", "{{resource}} synced"),
        ]),
    ]),
    ("Node agents", [
        ("timeseries", "Links managed and configured (all nodes)", "Attached ENIs the agents should configure, and those brought up with their MTU, summed over the selected nodes.", "short", 8, [
            q(f"sum(aws_multi_eni_agent_links_managed{{{NODE}}})", "managed"),
            q(f"sum(aws_multi_eni_agent_links_configured{{{NODE}}})", "configured"),
        ]),
        ("timeseries", "Nodes with unconfigured links (top 10)", "The ten nodes with the most attached ENIs their agent has not configured (AwsMultiEniLinksNotConfigured).", "short", 8, [
            q(f"topk(10, max by (node) (aws_multi_eni_agent_links_managed{{{NODE}}}) - max by (node) (aws_multi_eni_agent_links_configured{{{NODE}}}))", "{{node}}"),
        ]),
        ("timeseries", "Agent errors and link changes", "Agent errors by label, link changes, ENINode report writes and netlink events, over the selected nodes.", "ops", 8, [
            q(f"sum by (error) (rate(aws_multi_eni_agent_errors_total{{{NODE}}}[$__rate_interval]))", "error {{error}}"),
            q(f"sum by (change) (rate(aws_multi_eni_agent_link_changes_total{{{NODE}}}[$__rate_interval]))", "change {{change}}"),
            q(f"sum(rate(aws_multi_eni_agent_report_writes_total{{{NODE}}}[$__rate_interval]))", "report writes"),
            q(f"sum(rate(aws_multi_eni_agent_netlink_events_total{{{NODE}}}[$__rate_interval]))", "netlink events"),
        ]),
    ]),
]


def variable(name, label, query):
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DS,
        "definition": query,
        "query": {"query": query, "refId": f"{name}-variable"},
        "refresh": 2,
        "includeAll": True,
        "allValue": ".*",
        "multi": True,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "hide": 0,
        "sort": 1,
        "regex": "",
        "options": [],
    }


def templating():
    return {"list": [
        {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
         "current": {}, "hide": 0, "refresh": 1, "regex": "", "options": []},
        variable("cluster", "Cluster", "label_values(aws_multi_eni_build_info, cluster)"),
        variable("job", "Job", 'label_values(aws_multi_eni_build_info{cluster=~"$cluster"}, job)'),
        variable("namespace", "Namespace", 'label_values(aws_multi_eni_build_info{cluster=~"$cluster", job=~"$job"}, namespace)'),
        variable("nodeeni", "NodeENI", f"label_values(aws_multi_eni_slots{{{S}}}, nodeeni)"),
        variable("node", "Node", f"label_values(aws_multi_eni_agent_links_managed{{{S}}}, node)"),
    ]}


def panels():
    out, ident, y = [], 1, 0
    for title, row in ROWS:
        out.append({"id": ident, "type": "row", "title": title, "collapsed": False,
                    "gridPos": {"x": 0, "y": y, "w": 24, "h": 1}, "panels": []})
        ident, y, x = ident + 1, y + 1, 0
        for kind, name, description, unit, width, targets in row:
            if x + width > 24:
                x, y = 0, y + 8
            panel = {
                "id": ident,
                "type": kind,
                "title": name,
                "description": description,
                "datasource": DS,
                "gridPos": {"x": x, "y": y, "w": width, "h": 8},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "options": ({"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                             "tooltip": {"mode": "multi", "sort": "desc"}}
                            if kind == "timeseries" else
                            {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                             "textMode": "value_and_name", "colorMode": "value", "graphMode": "none"}),
                "targets": [
                    {"refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend, "datasource": DS}
                    for i, (expr, legend) in enumerate(targets)
                ],
            }
            out.append(panel)
            ident, x = ident + 1, x + width
        y += 8
    return out


def dashboard():
    return {
        "title": "AWS Multi-ENI Controller",
        "uid": "aws-multi-eni-controller",
        "tags": ["aws", "eni", "networking"],
        "schemaVersion": 39,
        "version": 2,
        "editable": True,
        "graphTooltip": 1,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "templating": templating(),
        "annotations": {"list": []},
        "panels": panels(),
    }


if __name__ == "__main__":
    json.dump(dashboard(), sys.stdout, indent=2)
    sys.stdout.write("\n")
