# Observability: Prometheus + promtool (alert rules, the Prometheus tests) and the Grafana dashboard
# type-checker. Included by the root Makefile; tools come from ../shared/tools (see its README).

SHARED_TOOLS ?= ../shared/tools
DASHCHECK_DIR ?= .tools/dashcheck
OBS_DASHBOARDS := $(wildcard helm/gleaner/files/dashboards/*.json)
OBS_RULES := helm/gleaner/files/prometheus-rules.yaml

.PHONY: tools-observability check-observability bench-autoscaling

tools-observability: ## Install Prometheus + promtool and the Grafana dashboard checker
	$(SHARED_TOOLS)/install-prometheus.sh
	@[ -x $(DASHCHECK_DIR)/node_modules/.bin/tsc ] || $(SHARED_TOOLS)/install-dashboard-check.sh $(DASHCHECK_DIR)

check-observability: ## promtool check + test the alert rules; type- and PromQL-check the dashboards
	promtool check rules $(OBS_RULES)
	promtool test rules tests/observability/rules_test.yaml
	cd $(DASHCHECK_DIR) && node $(abspath $(SHARED_TOOLS))/check-dashboards.mjs $(abspath $(OBS_DASHBOARDS))
	uv run python $(SHARED_TOOLS)/dash_promql_check.py $(OBS_DASHBOARDS)

bench-autoscaling: ## Simulate the HPA on a 5,000-item burst: waiting-only vs waiting+running signal
	uv run python -m bench.autoscaling.simulate --out bench/autoscaling
