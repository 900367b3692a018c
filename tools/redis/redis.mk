# tools/redis/redis.mk - the Redis near cache (docs/near-cache.md); included
# by the Makefile (which gives BUILD, CC, ALLFLAGS, BASEFLAGS, CFLAGS,
# LDLIBS, HDRS, have_header from bench/bench.mk).  Built only where
# hiredis's headers are found (Debian: libhiredis-dev); the core library
# never depends on it.
#
#   build/shmkv-redis          the agent and read-through tool (main.c,
#                              agent*.c), built by make and make tools
#   build/libshmkv-redis.a     the read-through helper (include/shmkv-redis.h)
#   build/shmkv-redis-bench    the benchmark (tools/redis/bench; BENCHMARKS.md)
#   make test-redis            install redis-server, redis-tools and
#                              libhiredis-dev when missing, build, and run
#                              the tests (tools/redis/test) against real
#                              servers; SAN=asan for the ASan build
#   make bench-redis           run the benchmark (BENCH_REDIS_ARGS=...)
#   make redis-agent           install redis-server and libhiredis-dev when
#                              missing, and build build/shmkv-redis: what
#                              the bindings' near-cache tests start
#   make install               also installs shmkv-redis, libshmkv-redis.a
#                              and shmkv-redis.h when they are built

REDIS_DIR  := tools/redis
REDIS_LIB_SRC := $(addprefix $(REDIS_DIR)/,conn.c cluster.c record.c route.c near.c)
REDIS_TOOL_SRC := $(addprefix $(REDIS_DIR)/,main.c agent.c agent_link.c agent_refresh.c)
REDIS_HDRS := include/shmkv-redis.h $(wildcard $(REDIS_DIR)/*.h) include/shmkv.h
REDIS_TEST_SRC := $(wildcard $(REDIS_DIR)/test/test_*.c)
REDIS_TEST_LIB := $(filter-out $(REDIS_TEST_SRC),$(wildcard $(REDIS_DIR)/test/*.c))
REDIS_TEST_BIN := $(REDIS_TEST_SRC:$(REDIS_DIR)/test/%.c=$(BUILD)/redis/test/%)
REDIS_BENCH_SRC := $(wildcard $(REDIS_DIR)/bench/*.c)
# The tools use the public API only, as the shmkv tool does.
REDIS_FLAGS = $(filter-out -Isrc,$(ALLFLAGS)) -I$(REDIS_DIR)
REDIS_LIBS := -lhiredis

REDIS_HAVE := $(call have_header,hiredis/hiredis.h,$(CC),c)

.PHONY: redis test-redis bench-redis install-redis uninstall-redis redis-agent
ifeq ($(REDIS_HAVE),1)
redis: $(BUILD)/shmkv-redis $(BUILD)/libshmkv-redis.a $(REDIS_TEST_BIN) \
       $(if $(REDIS_BENCH_SRC),$(BUILD)/shmkv-redis-bench)
tools: redis
install: install-redis
uninstall: uninstall-redis
else
redis:
	@echo "make redis: hiredis's headers are missing (scripts/install-deps.sh packages libhiredis-dev)" >&2; exit 1
endif

$(BUILD)/redis/obj/%.o: $(REDIS_DIR)/%.c $(REDIS_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(REDIS_FLAGS) -c $< -o $@

$(BUILD)/libshmkv-redis.a: $(REDIS_LIB_SRC:$(REDIS_DIR)/%.c=$(BUILD)/redis/obj/%.o)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/shmkv-redis: $(REDIS_TOOL_SRC) $(BUILD)/libshmkv-redis.a $(BUILD)/libshmkv-test.a $(REDIS_HDRS)
	$(CC) $(REDIS_FLAGS) $(REDIS_TOOL_SRC) $(BUILD)/libshmkv-redis.a $(BUILD)/libshmkv-test.a \
	    -o $@ $(LDLIBS) $(REDIS_LIBS)

# The tests link the test harness (test/harness.c) and their own helpers.
$(BUILD)/redis/test/%: $(REDIS_DIR)/test/%.c $(REDIS_TEST_LIB) $(wildcard $(REDIS_DIR)/test/*.h) \
                       $(BUILD)/libshmkv-redis.a $(BUILD)/libshmkv-test.a $(REDIS_HDRS) test/harness.h
	@mkdir -p $(dir $@)
	$(CC) $(REDIS_FLAGS) -Itest -fvisibility=default $< $(REDIS_TEST_LIB) test/harness.c \
	    $(BUILD)/libshmkv-redis.a $(BUILD)/libshmkv-test.a -o $@ $(LDLIBS) $(REDIS_LIBS)

# The benchmark takes Zipf sampling from bench/util.c and its Redis
# server's process from bench/servers.c.
$(BUILD)/shmkv-redis-bench: $(REDIS_BENCH_SRC) $(wildcard $(REDIS_DIR)/bench/*.h) bench/util.c bench/servers.c \
                            bench/bench.h $(BUILD)/libshmkv-redis.a $(BUILD)/libshmkv-test.a $(REDIS_HDRS)
	$(CC) $(REDIS_FLAGS) -Ibench $(REDIS_BENCH_SRC) bench/util.c bench/servers.c $(BUILD)/libshmkv-redis.a \
	    $(BUILD)/libshmkv-test.a -o $@ $(LDLIBS) $(REDIS_LIBS) -lm

# Installing the dependencies first, then a make of its own, which finds
# the headers just installed.
test-redis:
	./scripts/install-deps.sh packages redis-server redis-tools libhiredis-dev
	$(MAKE) redis
	./test/run.sh $(BUILD)/redis

# The plain build's agent, whatever SAN says, for the bindings' tests.
redis-agent:
	./scripts/install-deps.sh packages redis-server libhiredis-dev
	$(MAKE) --no-print-directory SAN= BUILD=build build/shmkv-redis

BENCH_REDIS_ARGS ?=
bench-redis:
	./scripts/install-deps.sh packages redis-server redis-tools libhiredis-dev
	$(MAKE) redis
	./$(BUILD)/shmkv-redis-bench $(BENCH_REDIS_ARGS)

# Installed: the tool linked with the release library, the helper library
# and its header.
$(BUILD)/rel/shmkv-redis: $(REDIS_TOOL_SRC) $(BUILD)/libshmkv-redis.a $(BUILD)/libshmkv.a $(REDIS_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(filter-out -Isrc,$(BASEFLAGS)) -I$(REDIS_DIR) $(CFLAGS) $(REDIS_TOOL_SRC) \
	    $(BUILD)/libshmkv-redis.a $(BUILD)/libshmkv.a -o $@ $(LDLIBS) $(REDIS_LIBS)

install-redis: $(BUILD)/rel/shmkv-redis $(BUILD)/libshmkv-redis.a
	install -d $(DESTDIR)$(INCDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(BINDIR)
	install -m 755 $(BUILD)/rel/shmkv-redis $(DESTDIR)$(BINDIR)/
	install -m 644 $(BUILD)/libshmkv-redis.a $(DESTDIR)$(LIBDIR)/
	install -m 644 include/shmkv-redis.h $(DESTDIR)$(INCDIR)/

uninstall-redis:
	rm -f $(DESTDIR)$(BINDIR)/shmkv-redis $(DESTDIR)$(LIBDIR)/libshmkv-redis.a \
	      $(DESTDIR)$(INCDIR)/shmkv-redis.h
