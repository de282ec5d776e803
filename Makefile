# The targets people look for; each is a thin wrapper over a script or a tool (README.md).
# Variables: JOBS (parallel builds), OUT (demo/run output), ARGS (extra arguments to eden).
JOBS ?= 2
OUT ?= ./eden-output
ARGS ?=
EDEN := build/release/src/cli/eden
COMPOSE ?= docker-compose
export JOBS

.PHONY: help build test demo run worker status dashboard image up down logs fmt bench clean

help:  ## This list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

build:  ## Release build of eden (build/release)
	scripts/install-deps.sh
	cmake --preset release >/dev/null
	cmake --build --preset release -j$(JOBS) --target eden

test:  ## Everything CI runs: format, build, all tests, sanitizers, fuzz replay
	scripts/test.sh

demo:  ## Demo PACS (PostgreSQL + Orthanc) -> eden run -> $(OUT)
	scripts/demo.sh $(OUT)

run: build  ## eden run with the settings of .env / the environment (ARGS=... for more)
	$(EDEN) run $(ARGS)

worker: build  ## An eden worker on REDIS_URL (ARGS=... for more)
	$(EDEN) worker $(ARGS)

status: build  ## Where the run writing $(OUT) is
	$(EDEN) status $(OUT) $(ARGS)

dashboard: build  ## The dashboard of the run writing $(OUT) on http://127.0.0.1:8555/
	$(EDEN) dashboard $(OUT) $(ARGS)

image:  ## Container image eden:latest (podman, Containerfile), smoke-tested inside its root
	scripts/build-image.sh eden:latest

up:  ## Redis, workers, the scheduler and the dashboard (compose.yaml, settings from .env)
	$(COMPOSE) up -d redis worker scheduler dashboard

down:  ## Stop what `make up` started
	$(COMPOSE) down

logs:  ## Follow the services' logs
	$(COMPOSE) logs -f --tail=100

fmt:  ## clang-format every C++ file in place
	git ls-files '*.cc' '*.h' | xargs clang-format -i

bench:  ## The pipeline benchmark (bench/RESULTS.md)
	bench/run_pipeline_bench.sh

clean:  ## Remove the build trees
	rm -rf build
