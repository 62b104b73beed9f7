#!/bin/sh
# tests/monitoring/test_monitoring.sh: examples/monitoring/ against promtool and against a running daemon's /metrics.
# usage: test_monitoring.sh rules SRC                      promtool check rules
#        test_monitoring.sh config SRC                     promtool check config (the scrape config and its rule file)
#        test_monitoring.sh rules_test SRC                 promtool test rules (callhook.rules.test.yml)
#        test_monitoring.sh metrics SRC CALLHOOK LOG_DIR   start callhook (hook, originator, admin) on 127.0.0.1, scrape
#                                                          /metrics, fail on any metric a rule or a panel queries that
#                                                          the daemon does not export
set -u
what=$1
SRC=$2
mon="$SRC/examples/monitoring"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/callhook-mon.XXXXXX") || exit 1
pid=""
cleanup() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

need() {
	command -v "$1" >/dev/null 2>&1 || {
		echo "$1 not found: install $2 (scripts/deps.sh --test)"
		exit 77
	}
}

case "$what" in
rules | config | rules_test)
	need promtool prometheus
	# promtool resolves rule_files against the config's folder; work on a copy so nothing is written to the source
	cp "$mon"/*.yml "$tmp/" || exit 1
	cd "$tmp" || exit 1
	case "$what" in
	rules) promtool check rules callhook.rules.yml ;;
	config) promtool check config prometheus.yml ;;
	rules_test) promtool test rules callhook.rules.test.yml ;;
	esac
	exit $?
	;;
metrics) ;;
*)
	echo "usage: $0 rules|config|rules_test|metrics SRC [CALLHOOK LOG_DIR]"
	exit 2
	;;
esac

CALLHOOK=$3
LOG_DIR=$4
need python3 python3
need curl curl
python3 -c 'import yaml' 2>/dev/null || {
	echo "python3 yaml not found: install python3-yaml (scripts/deps.sh --test)"
	exit 77
}
names="$SRC/tests/monitoring/promql_names.py"

# The extractor must see a name it has never met: a rule on a metric nobody exports is caught.
cat >"$tmp/bogus.yml" <<'YML'
groups:
  - name: bogus
    rules:
      - alert: Bogus
        expr: sum by (le) (rate(callhook_no_such_metric_bucket{job="callhook"}[5m])) > on (job) group_left up
YML
got=$(python3 "$names" "$tmp/bogus.yml" | cut -f1 | sort -u | tr '\n' ' ')
[ "$got" = "callhook_no_such_metric_bucket up " ] || {
	echo "FAIL: promql_names.py read the bogus rule as: $got"
	exit 1
}

# Hook, originator and admin in one daemon, so every family the code declares is on /metrics.
mkdir -p "$LOG_DIR" || exit 1
log="$LOG_DIR/monitoring-$$.log"
printf '%s\0' Shop_Sip_Secret_9 Orig_Http_Secret_7 >"$LOG_DIR/monitoring-$$.secrets"
cat >"$tmp/callhook.conf" <<'CONF'
log = { level = "info"; };
hook = { listen = [ "127.0.0.1:0" ]; cdr = { file = "calls.jsonl"; }; };
sites = ( { name = "shop"; origins = [ "https://www.example.com" ];
  sip = { login = "10001"; password = "Shop_Sip_Secret_9"; domain = "sip.example.com"; };
  buttons = { sales = "10002"; }; } );
originator = { identity = "sip:c2c@127.0.0.1"; listen = "sip:127.0.0.1:0";
  translations = ( { pattern = "^(\\d+)$"; output = "sip:$1@127.0.0.1"; } );
  http = { listen = [ "127.0.0.1:0" ]; user = "admin"; password = "Orig_Http_Secret_7"; }; };
admin = { listen = [ "127.0.0.1:0" ]; };
CONF
"$CALLHOOK" -c "$tmp/callhook.conf" >"$log" 2>&1 &
pid=$!
i=0
until grep -q 'callhook ready' "$log"; do
	i=$((i + 1))
	if [ "$i" -gt 100 ] || ! kill -0 "$pid" 2>/dev/null; then
		cat "$log"
		echo "FAIL: callhook did not start"
		exit 1
	fi
	sleep 0.1
done
admin=$(sed -n 's/.* admin: listening on \(127\.0\.0\.1:[0-9]*\).*/\1/p' "$log" | head -n 1)
hook=$(sed -n 's/.* hook: listening on \(127\.0\.0\.1:[0-9]*\).*/\1/p' "$log" | head -n 1)
[ -n "$admin" ] && [ -n "$hook" ] || {
	cat "$log"
	echo "FAIL: no admin or hook address in the log"
	exit 1
}
# one allowed connect and one refusal, so the per-request families have samples too
body='{"nodeId":"n1","appKey":"defaultApp","sessionId":"/127.0.0.1:5555/192.168.0.1:8443-a1","origin":"https://www.example.com","custom":{"button":"sales"}}'
curl -s -o /dev/null -H 'Content-Type: application/json' --data "$body" "http://$hook/rest-hook/connect"
curl -s -o /dev/null -H 'Content-Type: application/json' --data "$(echo "$body" | sed 's/www.example.com/evil.example.net/')" \
	"http://$hook/rest-hook/connect"
curl -sf "http://$admin/metrics" >"$tmp/metrics" || {
	echo "FAIL: GET http://$admin/metrics"
	exit 1
}
# what a query may name: each family's samples (a histogram's _bucket, _sum and _count, not its bare name),
# plus the series Prometheus adds to every scrape itself
awk '$1 == "#" && $2 == "TYPE" {
	if ($4 == "histogram") { print $3 "_bucket"; print $3 "_sum"; print $3 "_count" } else print $3 }' \
	"$tmp/metrics" >"$tmp/exported"
printf '%s\n' up scrape_duration_seconds scrape_samples_scraped scrape_series_added >>"$tmp/exported"
sort -u -o "$tmp/exported" "$tmp/exported"
nfam=$(grep -c '^# TYPE callhook_' "$tmp/metrics")
grep -q '^callhook_verdicts_total{verdict="origin"} 1$' "$tmp/metrics" || {
	cat "$tmp/metrics"
	echo "FAIL: the refused connect is not counted as verdict origin"
	exit 1
}

python3 "$names" "$mon/callhook.rules.yml" "$mon/grafana-dashboard.json" >"$tmp/used" || {
	echo "FAIL: promql_names.py could not read every query"
	exit 1
}
cut -f1 "$tmp/used" | sort -u >"$tmp/used_names"
nused=$(wc -l <"$tmp/used_names")
[ "$nused" -ge 10 ] || {
	echo "FAIL: only $nused metric names found in the rules and the dashboard"
	exit 1
}
missing=$(comm -23 "$tmp/used_names" "$tmp/exported")
if [ -n "$missing" ]; then
	echo "FAIL: queried but not exported by callhook (families: $nfam):"
	for m in $missing; do
		grep "^$m	" "$tmp/used" | sed 's/\t/  used by /'
	done
	exit 1
fi
unused=$(grep '^callhook_' "$tmp/exported" | grep -v '_sum$\|_bucket$' | comm -23 - "$tmp/used_names")
[ -z "$unused" ] || echo "note: exported, not queried by any rule or panel: $(echo "$unused" | tr '\n' ' ')"
echo "monitoring: all $nused metric names queried by the rules and the dashboard are exported ($nfam families)"
