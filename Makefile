# shmkv build.  Targets:
#   make            library (static + shared), tools, examples, tests -> build/
#   make demo       build and run the multi-process demo
#   make check      install test dependencies, run every test, then again
#                   under ASan+UBSan (the README's test command)
#   make python     the Python binding (bindings/python/python.mk:
#                   test-python, bench-python)
#   make test-cxx   the C++ header's tests (bindings/cxx/cxx.mk)
#   make test       run the tests of one build (BUILD=..., SAN=...)
#   make bench      run the default benchmark (BENCH_ARGS=... for others;
#                   bench/compare.sh for the standard comparison; bench/bench.mk)
#   make install    PREFIX=/usr/local DESTDIR= (library, headers, pkg-config,
#                   the shmkv tool and its man page)
#   make node       the Node.js addon; make test-node runs its tests
#                   (bindings/node/node.mk)
#   make redis      the Redis near cache (shmkv-redis, libshmkv-redis.a),
#                   when hiredis is installed; make test-redis runs its
#                   tests against real servers (tools/redis/redis.mk)
#   make fuzz       the libFuzzer targets (clang)             -> build/fuzz/
#   make fuzz-run   run each for FUZZ_SECONDS (default 60) on a copy of its
#                   seed corpus fuzz/corpus/TARGET; prints their final stats
#   make fuzz-seeds regenerate fuzz/corpus with fuzz/gen_seeds.c
#
# SAN=asan builds everything with -fsanitize=address,undefined into
# build/asan; SAN=tsan with -fsanitize=thread into build/tsan.

CC      ?= cc
SAN     ?=
PREFIX  ?= /usr/local
DESTDIR ?=
LIBDIR  ?= $(PREFIX)/lib
INCDIR  ?= $(PREFIX)/include
BINDIR  ?= $(PREFIX)/bin

VERSION := $(shell sed -n 's/^\#define SHMKV_VERSION_STRING "\(.*\)"/\1/p' include/shmkv.h)
SOMAJOR := 0

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wpointer-arith -Wformat=2
CFLAGS  ?= -O2 -g
BASEFLAGS := -std=c11 -D_GNU_SOURCE -pthread -fPIC -fvisibility=hidden $(WARN) -Iinclude -Isrc

ifeq ($(SAN),asan)
  BUILD   ?= build/asan
  SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -DSHMKV_TEST_HOOKS
else ifeq ($(SAN),tsan)
  BUILD   ?= build/tsan
  SANFLAGS := -fsanitize=thread -fno-omit-frame-pointer -DSHMKV_TEST_HOOKS
else
  BUILD   ?= build
  SANFLAGS := -DSHMKV_TEST_HOOKS
endif

ALLFLAGS = $(BASEFLAGS) $(SANFLAGS) $(CFLAGS)
LDLIBS  += -pthread

LIB_SRC  := $(wildcard src/*.c)
LIB_OBJ  := $(LIB_SRC:src/%.c=$(BUILD)/obj/%.o)
# release objects (no test hooks) for the installed library
REL_OBJ  := $(LIB_SRC:src/%.c=$(BUILD)/rel/%.o)
# Every test/test_*.c is a test program; the other test/*.c (the harness,
# shared helpers, a big test's parts) go into an archive each links.
TEST_SRC := $(wildcard test/test_*.c)
# The parts of the two torture tests, which TSan does not run, are left
# out of its build: their fences are not supported under -fsanitize=thread.
TSAN_SKIP := test/torture_reader.c test/torture_writer.c test/stop_torture_work.c
TEST_LIB := $(filter-out $(TEST_SRC) $(if $(filter tsan,$(SAN)),$(TSAN_SKIP)),$(wildcard test/*.c))
TEST_SH  := $(wildcard test/test_*.sh)
TEST_BIN := $(TEST_SRC:test/%.c=$(BUILD)/test/%) $(TEST_SH:test/%.sh=$(BUILD)/test/%)
# The soak run (scripts/soak.sh) is too long for run.sh: built beside the
# tests, in the plain build only, since it links the release library.
SOAK_BIN := $(if $(SAN),,$(BUILD)/soak)
HDRS     := include/shmkv.h $(wildcard src/*.h) $(wildcard test/*.h)
# The command-line tool: tools/cli/*.c, a file per group of subcommands.
# It and the examples use the public API only: they build without -Isrc.
CLI_SRC  := $(wildcard tools/cli/*.c)
CLI_HDR  := $(wildcard tools/cli/*.h)
# The example programs: examples/demo.c is the demo, build/shmkv-demo;
# examples/hello.c is the README's "Usage" example.
EXAMPLE_BIN := $(BUILD)/shmkv-demo $(BUILD)/examples/hello

.PHONY: all lib tests tools demo check test test-asan test-tsan install uninstall clean FORCE \
        fuzz fuzz-run fuzz-seeds
all: lib tools tests

lib: $(BUILD)/libshmkv.a $(BUILD)/libshmkv.so
tests: $(TEST_BIN) $(SOAK_BIN)
tools: $(BUILD)/shmkv $(EXAMPLE_BIN)

# The benchmark: its build, its peers, make bench.
include bench/bench.mk
# The PHP extension: make php, make test-php (bindings/php/php.mk).
include bindings/php/php.mk
# The Node.js addon: make node, make test-node.
include bindings/node/node.mk
# The Python binding: make python, make test-python, make bench-python.
include bindings/python/python.mk
# The C++ header's tests: make test-cxx.
include bindings/cxx/cxx.mk
# The Redis near cache: shmkv-redis, libshmkv-redis.a, make test-redis.
include tools/redis/redis.mk

# Library objects depend on the headers they include (-MMD), so a change
# to one module's header rebuilds only the files that use it.
$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALLFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/rel/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

-include $(LIB_OBJ:.o=.d) $(REL_OBJ:.o=.d)

# The static archive used by tests and tools carries the test hooks; the
# installed libraries are built without them.
$(BUILD)/libshmkv-test.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/libshmkv.a: $(REL_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/libshmkv.so: $(REL_OBJ)
	$(CC) -shared -Wl,-soname,libshmkv.so.$(SOMAJOR) $(CFLAGS) -o $@ $^ -pthread

# The tests' shared helpers (harness, model, ...) are compiled once per
# build, not once per test, into an archive: each test links the helpers
# it calls (so a big test's parts, torture_*.c, go only into that test).
TEST_OBJ = $(TEST_LIB:test/%.c=$(BUILD)/testobj/%.o)
TEST_ARC = $(BUILD)/libshmkv-testhelpers.a
.SECONDARY: $(TEST_OBJ) # kept, not removed as intermediates after each build
$(BUILD)/testobj/%.o: test/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(ALLFLAGS) -fvisibility=default -c $< -o $@

$(TEST_ARC): $(TEST_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/test/%: test/%.c $(TEST_ARC) $(BUILD)/libshmkv-test.a $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(ALLFLAGS) -fvisibility=default $< $(TEST_ARC) $(BUILD)/libshmkv-test.a -o $@ $(LDLIBS)

# C tests that run the command-line tool of their build (test/run_tool.c)
$(BUILD)/test/test_hostile $(BUILD)/test/test_cli_repair: | $(BUILD)/shmkv

# The soak run links the release library (no test hooks), as an
# application would, and only the harness of the test files.
$(BUILD)/soak: test/soak/soak.c test/harness.c $(BUILD)/libshmkv.a $(HDRS)
	$(CC) $(BASEFLAGS) $(CFLAGS) -Itest $< test/harness.c $(BUILD)/libshmkv.a -o $@ $(LDLIBS)

$(BUILD)/shmkv: $(CLI_SRC) $(CLI_HDR) $(BUILD)/libshmkv-test.a $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(filter-out -Isrc,$(ALLFLAGS)) $(CLI_SRC) $(BUILD)/libshmkv-test.a -o $@ $(LDLIBS)

$(BUILD)/shmkv-demo: examples/demo.c
$(BUILD)/examples/hello: examples/hello.c
$(EXAMPLE_BIN): $(BUILD)/libshmkv-test.a $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(filter-out -Isrc,$(ALLFLAGS)) $(filter %.c,$^) $(BUILD)/libshmkv-test.a -o $@ $(LDLIBS)

# Shell tests run from the build directory like the C ones; they find the
# tools as $(dirname $0)/../NAME.
$(BUILD)/test/%: test/%.sh
	@mkdir -p $(dir $@)
	cp $< $@ && chmod +x $@

demo: all
	./$(BUILD)/shmkv-demo

# The one command that runs every test: dependencies, the plain build with
# the tools' smoke runs and the install test, the Node.js addon's tests,
# then ASan+UBSan, TSan, the fuzz targets, the Redis near cache's tests
# (plain and ASan+UBSan; tools/redis/redis.mk) and the PHP extension's.
check:
	./scripts/install-deps.sh test
	$(MAKE) test
	./scripts/test-install.sh build
	$(MAKE) test-node
	$(MAKE) test-python
	$(MAKE) test-cxx
	$(MAKE) test SAN=asan
	$(MAKE) test-tsan
	$(MAKE) fuzz-run FUZZ_SECONDS=45
	$(MAKE) test-redis && $(MAKE) test-redis SAN=asan
	$(MAKE) test-php

test: tests tools
	./test/run.sh $(BUILD)
	./$(BUILD)/shmkv-demo
	./$(BUILD)/shmkv-bench --quick

test-asan:
	$(MAKE) test SAN=asan

# ThreadSanitizer cannot see happens-before between processes, so it runs
# the tests whose concurrency is all threads of one process.
TSAN_TESTS := test_threads test_model test_atomic_threads test_list_threads test_sleepers test_overflow
test-tsan:
	rm -rf build/tsan/test
	$(MAKE) SAN=tsan $(TSAN_TESTS:%=build/tsan/test/%)
	TSAN_OPTIONS="detect_deadlocks=0 halt_on_error=1" ./test/run.sh build/tsan

# libFuzzer targets, built with clang straight from the library's sources
# (with the test hooks) under ASan+UBSan; they share fuzz/fuzz_common.c
# and keep their tables in memfds.  fuzz/gen_seeds.c writes the seed
# corpora; fuzz-run works on a copy of them in a temporary directory and
# removes it.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := fuzz_open fuzz_ops
FUZZ_COMMON  := fuzz/fuzz_common.c fuzz/fuzz_common.h
FUZZ_FLAGS   := -std=c11 -D_GNU_SOURCE -pthread -g -O1 -fno-omit-frame-pointer \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
                -DSHMKV_TEST_HOOKS $(WARN) -Wno-format-nonliteral -Iinclude -Isrc

# Comparison tracing (which guides mutations towards the values compared)
# is left out; edge coverage stays.  fuzz_ops' input is a program: no byte
# of it ever meets a comparison in the library.  In fuzz_open it cost two
# fifths of each input's time (mostly loop bounds in the index walks), and
# fuzz/fuzz_open.dict gives the mutator the format's constants instead.
FUZZ_FLAGS_fuzz_ops := -fno-sanitize-coverage=trace-cmp
FUZZ_FLAGS_fuzz_open := -fno-sanitize-coverage=trace-cmp
# and its list operations live in a file of their own
FUZZ_EXTRA_fuzz_ops := fuzz/fuzz_lists.c
build/fuzz/fuzz_ops: fuzz/fuzz_lists.c fuzz/fuzz_lists.h

fuzz: $(FUZZ_TARGETS:%=build/fuzz/%)

build/fuzz/gen_seeds: fuzz/gen_seeds.c $(FUZZ_COMMON) build/libshmkv-test.a $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) -DSHMKV_TEST_HOOKS $(CFLAGS) $< fuzz/fuzz_common.c build/libshmkv-test.a -o $@ $(LDLIBS)

build/fuzz/%: fuzz/%.c $(FUZZ_COMMON) $(LIB_SRC) $(HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(FUZZ_FLAGS_$*) $< $(FUZZ_EXTRA_$*) fuzz/fuzz_common.c $(LIB_SRC) -o $@

fuzz-run: fuzz
	./scripts/fuzz-run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-seeds: build/fuzz/gen_seeds
	rm -rf fuzz/corpus
	./build/fuzz/gen_seeds fuzz/corpus

# Regenerated on every install: it holds PREFIX, LIBDIR and INCDIR.
$(BUILD)/shmkv.pc: shmkv.pc.in FORCE
	@mkdir -p $(dir $@)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCDIR@|$(INCDIR)|' \
	    -e 's|@VERSION@|$(VERSION)|' $< > $@

# The installed tool links the release archive (no test hooks).
$(BUILD)/rel/shmkv: $(CLI_SRC) $(CLI_HDR) $(BUILD)/libshmkv.a $(HDRS)
	$(CC) $(filter-out -Isrc,$(BASEFLAGS)) $(CFLAGS) $(CLI_SRC) $(BUILD)/libshmkv.a -o $@ $(LDLIBS)

install: lib $(BUILD)/rel/shmkv $(BUILD)/shmkv.pc
	install -d $(DESTDIR)$(INCDIR) $(DESTDIR)$(LIBDIR)/pkgconfig
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(BUILD)/rel/shmkv $(DESTDIR)$(BINDIR)/
	install -m 644 docs/shmkv.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 include/shmkv.h include/shmkv.hpp include/shmkv_lists.hpp $(DESTDIR)$(INCDIR)/
	install -m 644 $(BUILD)/libshmkv.a $(DESTDIR)$(LIBDIR)/
	install -m 755 $(BUILD)/libshmkv.so $(DESTDIR)$(LIBDIR)/libshmkv.so.$(VERSION)
	ln -sf libshmkv.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libshmkv.so.$(SOMAJOR)
	ln -sf libshmkv.so.$(SOMAJOR) $(DESTDIR)$(LIBDIR)/libshmkv.so
	install -m 644 $(BUILD)/shmkv.pc $(DESTDIR)$(LIBDIR)/pkgconfig/

uninstall:
	rm -f $(DESTDIR)$(INCDIR)/shmkv.h $(DESTDIR)$(INCDIR)/shmkv.hpp $(DESTDIR)$(INCDIR)/shmkv_lists.hpp $(DESTDIR)$(LIBDIR)/libshmkv.* \
	      $(DESTDIR)$(LIBDIR)/pkgconfig/shmkv.pc \
	      $(DESTDIR)$(BINDIR)/shmkv $(DESTDIR)$(PREFIX)/share/man/man1/shmkv.1

clean:
	rm -rf build

FORCE:
