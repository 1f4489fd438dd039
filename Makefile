# Entry points for people and CI. Every target works on a fresh clone:
# `make setup` is a prerequisite of the others and is quick when done.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV     ?= .venv
PY       := $(VENV)/bin/python
BIN      := $(VENV)/bin
STAMP    := $(VENV)/.installed
# Pinned upstream files (read, never copied): ../shared/<name> when it is
# there, else .cache/<name>, filled on first use from playbooks/vars/<name>-lock.yml
# (sha256-checked) by scripts/fetch_pinned.py; FINMLOPS_FETCH_BASE_URL: a mirror.
# Charts: FINMLOPS_CHART_DIR when it names a folder (e.g. `make charts` output),
# else ../shared/charts, else fetched (5 of 6 chart sha256 are not verified yet:
# the fetch refuses them, see playbooks/vars/charts-lock.yml).
SHARED       ?= $(abspath ../shared)
PINNED_CACHE ?= $(abspath .cache)
pinned_dir    = $(if $(wildcard $(SHARED)/$(1)/.),$(SHARED)/$(1),$(PINNED_CACHE)/$(1))
export FINMLOPS_SCHEMA_DIR ?= $(call pinned_dir,schemas)
export FINMLOPS_UPSTREAM_EXAMPLES ?= $(call pinned_dir,upstream-examples)
export FINMLOPS_CHART_DIR ?= $(call pinned_dir,charts)
export FINMLOPS_FETCH_BASE_URL
# Project-local podman settings for molecule (see the header of molecule/containers.conf).
export CONTAINERS_CONF := $(abspath molecule/containers.conf)
export PATH := $(abspath $(VENV))/bin:$(PATH)
export ANSIBLE_CONFIG := $(abspath ansible.cfg)

.PHONY: help setup demo test lint preflight render checkov doctor bench images images-test unit molecule schemas charts pinned clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(PY) || python3.11 -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP) ## create .venv and install the project (idempotent)

pinned: setup ## provide the pinned schemas, fixtures and charts: ../shared, else fetched into .cache (checksummed)
	$(PY) scripts/fetch_pinned.py --shared $(SHARED) --cache $(PINNED_CACHE) \
	  $(if $(wildcard $(FINMLOPS_CHART_DIR)/.),--only schemas --only upstream-examples)

demo: setup pinned ## the main job on the embedded default (one machine, no cluster)
	$(BIN)/ansible-playbook -i inventory/local playbooks/local.yml $(DEMO_ARGS)

preflight: setup ## check an inventory (INV=inventory/sample; HOST_CHECKS=1 also checks the nodes)
	$(BIN)/ansible-playbook -i $(or $(INV),inventory/sample) playbooks/preflight.yml $(if $(HOST_CHECKS),--tags host_checks)

render: setup pinned ## render and validate every manifest for inventory/sample (no cluster, no hosts)
	$(BIN)/ansible-playbook -i inventory/sample site.yml -e platform_mode=render

lint: setup ## ansible-lint (production), yamllint, ruff
	$(BIN)/yamllint --strict .
	$(BIN)/ansible-lint --profile production
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

unit: setup pinned ## pytest (unit, render and integration tests; the image tests run in images-test)
	$(BIN)/pytest -m 'not images' $(PYTEST_ARGS)

molecule: setup ## every molecule scenario (podman, systemd nodes)
	scripts/build-node-image.sh
	for s in $$(ls molecule | sort); do \
	  test -f molecule/$$s/molecule.yml || continue; \
	  $(BIN)/molecule test -s $$s; \
	done

test: lint unit molecule images-test ## everything CI runs

bench: setup ## benchmarks with targets (met / NOT met): training loop, serving, data-pipeline scaling
	$(BIN)/python benchmarks/train_throughput.py --steps 30 --repeats 5 --threads 1 --json build/train-throughput.json
	$(BIN)/python benchmarks/serving_latency.py --json-out build/serving-latency.json
	$(BIN)/python benchmarks/scaling.py --json-out build/scaling.json

# AIRGAP=1: the air-gapped build (containers/README.md), from a local
# debootstrap base and a host-made wheelhouse, both cached; CI builds so.
# ARCHIVES=1: also save build/images/<name>-<tag>.tar for k3s_image_archives.
IMAGE_BASE ?= localhost/finmlops-python-base:bookworm
WHEELHOUSE ?= $(HOME)/.cache/financial-mlops/wheelhouse
images: setup ## build the trainer and serving images (AIRGAP=1: no registry/index; push with ML_IMAGE_REGISTRY=host/ns)
	$(if $(AIRGAP),IMAGE_BASE=$(IMAGE_BASE) scripts/build-image-base.sh)
	$(if $(AIRGAP),scripts/build-wheelhouse.sh $(WHEELHOUSE))
	$(BIN)/ansible-playbook playbooks/build-images.yml $(if $(ML_IMAGE_REGISTRY),-e ml_image_registry=$(ML_IMAGE_REGISTRY)) \
	  $(if $(AIRGAP),-e ml_image_python_base=$(IMAGE_BASE) -e ml_image_wheelhouse=$(WHEELHOUSE)) \
	  $(if $(ARCHIVES),-e ml_image_archive_dir=$(abspath build/images))

images-test: ## build the images air-gapped, then run them with podman as the cluster does
	$(MAKE) images AIRGAP=1
	FINMLOPS_IMAGES_REQUIRED=1 $(BIN)/pytest tests/images -m images

checkov: render ## checkov over the rendered manifests (own venv .venv-checkov; skip list in .checkov.yaml)
	scripts/run-checkov.sh build/manifests

doctor: setup ## diagnose a saved snapshot offline (SNAPSHOT=file)
	$(BIN)/ansible-playbook playbooks/day2/doctor.yml -e snapshot=$(SNAPSHOT)

schemas: setup ## download the pinned upstream CRD schemas (checksummed) into .cache/schemas
	$(PY) scripts/fetch_pinned.py --shared /nonexistent --cache $(PINNED_CACHE) --only schemas

charts: setup ## download the pinned Helm chart archives (checksummed) for use without ../shared
	$(BIN)/ansible-playbook playbooks/download-charts.yml

clean: ## remove build output (not the venv, not generated secrets)
	rm -rf build
