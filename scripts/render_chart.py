#!/usr/bin/env python3
"""Renders charts/aws-multi-eni-controller with Helm's own engine (PyPI helm-python-sdk).

    render_chart.py [--values FILE] [--set-json JSON] [--name NAME] [--namespace NS]
                    [--json] [--lint]

Prints the rendered manifests as one multi-document YAML stream in template order (what
`helm template` prints), or with --json one JSON object {template path: text}; --lint
runs `helm lint --strict` first.
Exits 1 with Helm's message when linting, the values schema or rendering fails.
"""
import argparse
import json
import os
import sys
import tempfile

import helm_python as helm

CHART = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "charts", "aws-multi-eni-controller")


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--values", action="append", default=[])
    p.add_argument("--set-json", action="append", default=[], help="a JSON object merged over the values")
    p.add_argument("--name", default="aws-multi-eni-controller")
    p.add_argument("--namespace", default="eni-controller-system")
    p.add_argument("--json", action="store_true")
    p.add_argument("--lint", action="store_true")
    args = p.parse_args()

    home = tempfile.mkdtemp(prefix="helm-home-")
    for key in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        os.environ[key] = home

    values: dict = {}
    for path in args.values:
        with open(path) as f:
            merge(values, helm.values_from_yaml(f.read()) or {})
    for text in args.set_json:
        merge(values, json.loads(text))
    try:
        if args.lint:
            result = helm.lint(CHART, values, strict=True, namespace=args.namespace)
            if result.get("errors"):
                print(json.dumps(result, indent=2), file=sys.stderr)
                return 1
        with helm.Chart.load(CHART) as chart:
            chart.validate_schema(values)
            out = chart.render(values, name=args.name, namespace=args.namespace, is_install=True)
    except helm.HelmError as e:
        print(f"helm: {e}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(out, indent=1, sort_keys=True))
        return 0
    for path in sorted(out):
        text = out[path].strip()
        if path.endswith("NOTES.txt") or not text:
            continue
        print(f"---\n# Source: {path}\n{text}")
    return 0


def merge(into: dict, over: dict) -> None:
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            merge(into[k], v)
        else:
            into[k] = v


if __name__ == "__main__":
    sys.exit(main())
