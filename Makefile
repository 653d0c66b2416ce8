# Thin front door: CMake builds, CTest + pytest test. See README.md.
SHELL := /bin/bash
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)
PYTEST_ARGS ?=

.PHONY: all build asan test unit integration bench soak demo fuzz bootstrap clean kafka-start kafka-stop

all: build

bootstrap:
	@scripts/bootstrap

build: bootstrap
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

asan: bootstrap
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSMARTTECH_SANITIZE=ON -DSMARTTECH_TEST_HOOKS=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)

# Unit tests run under AddressSanitizer + UndefinedBehaviorSanitizer.
unit: asan
	@cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure -j $(JOBS)

# Integration tests: real Kafka broker (started by the test harness), real readers.
# The corpus tests also run hostile files through the ASan binary when `unit` built it.
integration: build
	@$(if $(wildcard $(ASAN_BUILD)/smarttech),SMARTTECH_ASAN_BIN=$(CURDIR)/$(ASAN_BUILD)/smarttech) \
		.venv/bin/python -m pytest -ra tests/integration $(PYTEST_ARGS)

# CI: every fuzz target for 30 s (regression inputs replayed first), between unit and integration.
test: unit
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=30 FUZZ_FINDINGS_FATAL=0
	@$(MAKE) --no-print-directory integration

bench: build
	@bench/run

# Not CI: the pipeline at 20,000 events/s for SOAK_MINUTES (default 30) with kill -9 and a broker
# restart, on a broker of its own (localhost:29092); per-minute series to bench/results/soak-*.
soak: build
	@.venv/bin/python bench/soak/soak.py

# MQTT=1: the sensors publish over a local Mosquitto and `smarttech mqtt-bridge` forwards to Kafka.
demo: build
	@scripts/demo

FUZZ_SECONDS ?= 300
FUZZ_FINDINGS_FATAL ?= 1
fuzz: bootstrap
	@FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_FINDINGS_FATAL=$(FUZZ_FINDINGS_FATAL) scripts/fuzz

kafka-start:
	@scripts/kafka-local start

kafka-stop:
	@scripts/kafka-local stop

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz
