# bindings/python/python.mk - the Python binding; included by the Makefile.
#
#   make python        build the package shmkv for $(PYTHON) (default
#                      python3) into build/python/lib, without setuptools:
#                      PYTHONPATH=build/python/lib python3 -c 'import shmkv'
#   make test-python   install what the tests need (Debian packages), then
#                      build and run them with python3 and /usr/bin/python3
#                      (bindings/python/run-tests.sh; PYTHONS=... for others);
#                      the near cache's (test_near) need redis-py, redis-server
#                      and the agent (make redis-agent, tools/redis/redis.mk)
#   make bench-python  the Python benchmark against LMDB, diskcache,
#                      multiprocessing.Manager and Redis, with Debian's
#                      python3 and packages (PYBENCH_ARGS=... for options)
#
# The extension links build/libshmkv.a, the release archive (make lib).

PYTHON        ?= python3
PYBENCH_PYTHON ?= /usr/bin/python3
PYBENCH_ARGS  ?=

.PHONY: python test-python bench-python

python:
	$(MAKE) --no-print-directory SAN= lib
	bindings/python/build.sh $(PYTHON) build/python/lib

test-python:
	./scripts/install-deps.sh python
	./scripts/install-deps.sh packages python3-redis
	$(MAKE) --no-print-directory redis-agent
	$(MAKE) --no-print-directory SAN= lib
	bindings/python/run-tests.sh

bench-python:
	./scripts/install-deps.sh python-bench
	$(MAKE) --no-print-directory SAN= lib
	bindings/python/build.sh $(PYBENCH_PYTHON) build/python/bench
	PYTHONPATH=build/python/bench $(PYBENCH_PYTHON) bindings/python/bench.py $(PYBENCH_ARGS)
