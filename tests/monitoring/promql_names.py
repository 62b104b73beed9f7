#!/usr/bin/env python3
# tests/monitoring/promql_names.py: every metric name queried by Prometheus rule files and Grafana dashboards.
# usage: promql_names.py FILE...   (*.yml / *.yaml: rule files; *.json: dashboards)
# Prints "name<TAB>where" per use. Exits 1 if a query names no metric at all (the parser below missed
# something, or the query is broken), 2 on a file it cannot read.
import json
import re
import sys

import yaml

KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left",
            "group_right", "inf", "nan", "atan2"}
IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def names(expr):
    """The metric names in one PromQL expression (Grafana's $variables and label_values() allowed)."""
    out = set(re.findall(r"__name__\s*=~?\s*\"([a-zA-Z_:][a-zA-Z0-9_:]*)\"", expr))
    e = re.sub(r"\$\{?\w+\}?", "1", expr)  # Grafana variables: $__rate_interval, ${datasource}
    # label_values(SELECTOR, label) queries SELECTOR; label_values(label) queries no metric
    e = re.sub(r"label_values\(\s*([^,()]*?)\s*,\s*\w+\s*\)", r"(\1)", e)
    e = re.sub(r"label_values\(\s*\w+\s*\)", "", e)
    e = re.sub(r"\"(\\.|[^\"\\])*\"|'(\\.|[^'\\])*'|`[^`]*`", "", e)  # string literals
    e = re.sub(r"\{[^}]*\}", " ", e)  # label matchers
    e = re.sub(r"\[[^\]]*\]", " ", e)  # ranges and subqueries
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    e = re.sub(r"\boffset\s+-?[0-9a-z]+", " ", e)
    e = re.sub(r"\b[a-zA-Z_][a-zA-Z0-9_]*\s*\(", "(", e)  # functions and aggregations
    e = re.sub(r"\b[0-9][0-9a-zA-Z_.+-]*", " ", e)  # numbers and durations (1e3, 0x1f, 5m)
    for tok in IDENT.findall(e):
        if tok.lower() not in KEYWORDS:
            out.add(tok)
    return out


def queries_rules(path):
    with open(path) as f:
        doc = yaml.safe_load(f)
    for g in doc.get("groups", []):
        for r in g.get("rules", []):
            yield "%s: %s" % (path, r.get("alert") or r.get("record")), r["expr"]


def walk_panels(panels):
    for p in panels:
        yield p
        yield from walk_panels(p.get("panels", []))


def queries_dashboard(path):
    with open(path) as f:
        doc = json.load(f)
    for p in walk_panels(doc.get("panels", [])):
        for t in p.get("targets", []):
            if "expr" in t:
                yield "%s: panel %r %s" % (path, p.get("title"), t.get("refId")), t["expr"]
    for v in doc.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            q = v.get("query")
            q = q.get("query") if isinstance(q, dict) else q
            yield "%s: variable %s" % (path, v.get("name")), q


def main(files):
    empty = 0
    for path in files:
        try:
            qs = list(queries_dashboard(path) if path.endswith(".json") else queries_rules(path))
        except (OSError, ValueError, KeyError, yaml.YAMLError) as e:
            print("cannot read %s: %s" % (path, e), file=sys.stderr)
            return 2
        for where, q in qs:
            found = names(q)
            if not found:
                print("%s: no metric name in %r" % (where, q), file=sys.stderr)
                empty += 1
            for n in sorted(found):
                print("%s\t%s" % (n, where))
    return 1 if empty else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
