# Everyday commands for botfleet. `make` (or `make help`) lists them.
# Docker, kind, helm and kubectl are needed only by the targets that use them.

SHELL := /bin/bash
.DEFAULT_GOAL := help

IMAGE        ?= botfleet:dev
# Extra `docker build` flags, e.g. DOCKER_BUILD_FLAGS=--network=host where Docker has no bridge network.
DOCKER_BUILD_FLAGS ?=
KIND_CLUSTER ?= botfleet
RELEASE      ?= botfleet
NAMESPACE    ?= botfleet
CHART        := charts/botfleet
# Values for a kind cluster; for an existing cluster, e.g.
#   make helm-install HELM_VALUES="--set image.repository=registry.example.com/botfleet --set image.tag=0.1.0"
HELM_VALUES  ?= -f $(CHART)/ci/kind-values.yaml
BOTS         ?= 3
# bridge: docker-compose.yml + docker-compose.override.yml (ports published on the host); host:
# docker-compose.yml + docker-compose.host.yml (every container on the host's network, listening on
# 127.0.0.1 only; what CI uses).
COMPOSE_NETWORK ?= bridge
# Where compose reads ADMIN_TOKEN, BOT_TOKEN, VIEWER_TOKEN (and any other setting) from. The compose
# targets write it with random tokens when it is missing, and never change an existing one.
ENV_FILE     ?= .env
# Compose v2 (`docker compose`) when present, else the standalone docker-compose 1.x.
COMPOSE_BIN  ?= $(shell if docker compose version >/dev/null 2>&1; then echo "docker compose"; else echo docker-compose; fi)
COMPOSE      := $(COMPOSE_BIN) --env-file $(ENV_FILE) -f docker-compose.yml -f docker-compose.$(if $(filter host,$(COMPOSE_NETWORK)),host,override).yml

.PHONY: help image up down logs ps dev test chart-check test-deploy kind-up kind-load helm-install helm-test helm-uninstall bot-logs

help: ## List the targets
	@echo "Usage: make <target> [VAR=value]"
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-15s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

image: ## Build the one image of every component as IMAGE (botfleet:dev)
	docker build $(DOCKER_BUILD_FLAGS) -t $(IMAGE) .

up: image | $(ENV_FILE) ## Compose: build the image, start server, dashboard, controller and BOTS (3) bots
	BOTFLEET_IMAGE=$(IMAGE) $(COMPOSE) up -d --no-build --scale bot=$(BOTS)
	@echo "dashboard: http://localhost:3002 (sign in with ADMIN_TOKEN from $(ENV_FILE))   api: http://localhost:3001"

down: | $(ENV_FILE) ## Compose: stop and remove the containers (data volumes stay; add V=1 to remove them)
	$(COMPOSE) down $(if $(V),--volumes)

logs: | $(ENV_FILE) ## Compose: follow the logs of every service
	$(COMPOSE) logs -f --tail=100

ps: | $(ENV_FILE) ## Compose: list the containers and their health
	$(COMPOSE) ps

# Only when the file is missing (no prerequisites, so make never remakes an existing one): one random
# token per role, 48 hex digits each, readable by its owner only.
$(ENV_FILE):
	@umask 077 && { \
	  echo "# Random bearer tokens for docker compose, written by make because this file was missing. Keep it private."; \
	  for v in ADMIN_TOKEN BOT_TOKEN VIEWER_TOKEN; do echo "$$v=$$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"; done; \
	} > $@.tmp && mv $@.tmp $@
	@echo "wrote $@ with random ADMIN_TOKEN, BOT_TOKEN and VIEWER_TOKEN"

dev: ## Run server, dashboard, controller and 3 bots from source in this terminal
	npm run dev:all

test: ## Type check, lint and run every jest test (CI runs this, then test:chaos and test-deploy)
	npm test

chart-check: ## helm lint --strict (defaults and every ci/*.yaml) and helm template; needs helm
	helm lint --strict $(CHART)
	@set -e; for v in $(CHART)/ci/*.yaml; do echo "helm lint --strict -f $$v"; helm lint --strict $(CHART) -f "$$v"; done
	helm template $(RELEASE) $(CHART) >/dev/null
	@set -e; for v in $(CHART)/ci/*.yaml; do helm template $(RELEASE) $(CHART) -f "$$v" >/dev/null; done
	@if helm template $(RELEASE) $(CHART) --set server.replicas=2 >/dev/null 2>&1; then \
	  echo "chart-check: server.replicas=2 without PostgreSQL must fail to render" >&2; exit 1; fi

test-deploy: ## Image, compose, Helm on a local Kubernetes, controller on the real API (npm run test:deploy)
	npm run test:deploy

kind-up: ## Create the kind cluster from kind-config.yaml (dashboard on localhost:3002)
	@kind get clusters 2>/dev/null | grep -qx '$(KIND_CLUSTER)' \
	  || kind create cluster --name $(KIND_CLUSTER) --config kind-config.yaml

kind-load: image ## Build the image and load it into the kind node (no registry needed)
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
