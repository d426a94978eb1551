# Everyday commands for botfleet. `make` (or `make help`) lists them.
# Docker, kind, helm and kubectl are needed only by the targets that use them.

SHELL := /bin/bash
.DEFAULT_GOAL := help

IMAGE        ?= botfleet:dev
KIND_CLUSTER ?= botfleet
RELEASE      ?= botfleet
NAMESPACE    ?= botfleet
CHART        := charts/botfleet
# Values for a kind cluster; for an existing cluster, e.g.
#   make helm-install HELM_VALUES="--set image.repository=registry.example.com/botfleet --set image.tag=0.1.0"
HELM_VALUES  ?= -f $(CHART)/ci/kind-values.yaml
BOTS         ?= 3
# Compose v2 (`docker compose`) when present, else the standalone docker-compose 1.x.
COMPOSE      ?= $(shell if docker compose version >/dev/null 2>&1; then echo "docker compose"; else echo docker-compose; fi)

.PHONY: help up down logs ps dev test kind-up kind-load helm-install helm-test helm-uninstall bot-logs test-deploy

help: ## List the targets
	@echo "Usage: make <target> [VAR=value]"
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-15s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

up: ## Compose: build the image, start server, dashboard, controller and BOTS (3) bots
	$(COMPOSE) up --build -d --scale bot=$(BOTS)
	@echo "dashboard: http://localhost:3002   api: http://localhost:3001"

down: ## Compose: stop and remove the containers (data volumes stay; add V=1 to remove them)
	$(COMPOSE) down $(if $(V),--volumes)

logs: ## Compose: follow the logs of every service
	$(COMPOSE) logs -f --tail=100

ps: ## Compose: list the containers and their health
	$(COMPOSE) ps

dev: ## Run server, dashboard, controller and 3 bots from source in this terminal
	npm run dev:all

test: ## Type check, lint and run every jest test (what CI runs)
	npm test

kind-up: ## Create the kind cluster from kind-config.yaml (dashboard on localhost:3002)
	@kind get clusters 2>/dev/null | grep -qx '$(KIND_CLUSTER)' \
	  || kind create cluster --name $(KIND_CLUSTER) --config kind-config.yaml

kind-load: ## Build the image and load it into the kind node (no registry needed)
	docker build -t $(IMAGE) .
	kind load docker-image $(IMAGE) --name $(KIND_CLUSTER)

helm-install: ## Install or upgrade the chart into NAMESPACE, enforcing the restricted Pod Security Standard
	@kubectl get namespace $(NAMESPACE) >/dev/null 2>&1 || kubectl create namespace $(NAMESPACE)
	kubectl label --overwrite namespace $(NAMESPACE) pod-security.kubernetes.io/enforce=restricted
	helm upgrade --install $(RELEASE) $(CHART) --namespace $(NAMESPACE) $(HELM_VALUES) --wait --timeout 5m

helm-test: ## Run the chart's test pod: server and dashboard answer /healthz through their Services
	helm test $(RELEASE) --namespace $(NAMESPACE) --logs

helm-uninstall: ## Remove the release (the server's volume claim stays; delete it to drop the data)
	helm uninstall $(RELEASE) --namespace $(NAMESPACE)

bot-logs: ## Follow the logs of every bot pod
	kubectl -n $(NAMESPACE) logs -f --prefix --max-log-requests 60 \
	  -l app.kubernetes.io/instance=$(RELEASE),app.kubernetes.io/component=bot

test-deploy: ## Check the deployment files with whichever of helm, kubectl and compose exist here
	@set -euo pipefail; \
	if command -v helm >/dev/null 2>&1; then \
	  helm lint --strict $(CHART); \
	  for v in $(CHART)/ci/*.yaml; do helm lint --strict $(CHART) -f "$$v"; done; \
	  if helm template $(RELEASE) $(CHART) --set server.replicas=2 >/dev/null 2>&1; then \
	    echo "test-deploy: server.replicas=2 without PostgreSQL must fail to render" >&2; exit 1; fi; \
	  if command -v kubectl >/dev/null 2>&1 && kubectl cluster-info --request-timeout=5s >/dev/null 2>&1; then \
	    helm template $(RELEASE) $(CHART) --namespace default | kubectl apply --dry-run=server --namespace default -f -; \
	  else echo "test-deploy: skipped kubectl apply --dry-run=server (no reachable cluster)"; fi; \
	else echo "test-deploy: skipped helm lint and helm template (helm not installed)"; fi; \
	if docker compose version >/dev/null 2>&1; then docker compose -f docker-compose.yml config -q; \
	elif command -v docker-compose >/dev/null 2>&1; then docker-compose -f docker-compose.yml config -q; \
	else echo "test-deploy: skipped compose config (docker compose not installed)"; exit 0; fi; \
	echo "test-deploy: compose file ok"
