# bench/bench.mk - shmkv-bench, the benchmark; included by the Makefile
# (which gives BUILD, CC, CXX, ALLFLAGS, SANFLAGS, CFLAGS, HDRS, LDLIBS).
#
#   build/shmkv-bench   bench/*.c with shmkv, and each peer that can be
#                       built here (built by make, make tools)
#   make bench          run it: 1 M keys, 2 processes, every peer there is,
#                       MIX 1 s (BENCH_ARGS replaces or adds options);
#                       bench/compare.sh runs the standard comparison
#
# A peer is built only where what it needs is found; Debian's packages:
# liblmdb-dev, libhiredis-dev, libmemcached-dev, libboost-dev
# (scripts/install-deps.sh test installs the first, bench all of them).
# Each peer is a block below that adds its file(s) to BENCH_SRC, its
# libraries to BENCH_LIBS and -DHAVE_NAME to BENCH_DEFS.  A peer whose
# library comes as a source tree rather than a package takes that tree's
# path in a variable (NAME_DIR=...) and is built only when it is given:
#   ifneq ($(NAME_DIR),)
#     BENCH_DEFS += -DHAVE_NAME -I$(NAME_DIR)/include
#     BENCH_SRC  += bench/sys_name.c $(NAME_DIR)/src/name.c
#   endif
# (bench/sys.h says what the file provides.)

have_header = $(shell printf '\043include <$(1)>\n' | $(2) -E -x $(3) - >/dev/null 2>&1 && echo 1)

BENCH_SRC  := $(addprefix bench/,main.c options.c systems.c phases.c worker.c report.c \
                cleanup.c util.c stall.c hitratio.c servers.c sys_shmkv.c sys_ideal.c \
                queue.c queue_peers.c queue_shf.c)
BENCH_DEFS :=
BENCH_LIBS := -lm

ifeq ($(call have_header,lmdb.h,$(CC),c),1)
  BENCH_DEFS += -DHAVE_LMDB
  BENCH_SRC  += bench/sys_lmdb.c
  BENCH_LIBS += -llmdb
endif
ifeq ($(call have_header,hiredis/hiredis.h,$(CC),c),1)
  BENCH_DEFS += -DHAVE_HIREDIS
  BENCH_SRC  += bench/sys_redis.c bench/queue_redis.c
  BENCH_LIBS += -lhiredis
endif
ifeq ($(call have_header,libmemcached/memcached.h,$(CC),c),1)
  BENCH_DEFS += -DHAVE_MEMCACHED
  BENCH_SRC  += bench/sys_memcached.c bench/hitratio_mc.c
  BENCH_LIBS += -lmemcached
endif
ifeq ($(call have_header,boost/interprocess/managed_shared_memory.hpp,$(CXX),c++),1)
  BENCH_DEFS += -DHAVE_BOOST
  BENCH_SRC  += bench/sys_boost.c bench/boost_map.cpp
  BENCH_LIBS += -lstdc++ -lrt
endif

# Peers that Debian lacks come as source trees built by their own build
# systems, outside this repository, and are linked only when given:
#   SHF_DIR=DIR          SharedHashFile: cd DIR && SHF_SKIP_TESTS=1 make release clang
#                        (its objects release-clang/shf.o, murmurhash3.o; its own
#                        tests may fail to build there, and are not needed)
#   LIBSHMCACHE_DIR=DIR  libshmcache: make -C DIR/src libshmcache.a INC_PATH=-IP/include,
#   LIBFASTCOMMON_DIR=P  against libfastcommon installed by its make.sh under prefix P
#                        (DESTDIR=D ./make.sh && DESTDIR=D ./make.sh install: P=D/usr)
# e.g. make bench-peers SHF_DIR=... LIBSHMCACHE_DIR=... LIBFASTCOMMON_DIR=...
# (BENCHMARKS.md has the exact commands).  Their headers are -isystem: their
# warnings are theirs.
ifneq ($(SHF_DIR),)
  BENCH_DEFS += -DHAVE_SHF -isystem $(SHF_DIR)/src
  BENCH_SRC  += bench/sys_shf.c
  BENCH_LIBS += $(SHF_DIR)/release-clang/shf.o $(SHF_DIR)/release-clang/murmurhash3.o
  $(BUILD)/obj/bench/sys_shf.o: ALLFLAGS += -std=gnu11 # its headers use GNU asm
endif
ifneq ($(LIBSHMCACHE_DIR),)
  BENCH_DEFS += -DHAVE_LIBSHMCACHE -isystem $(LIBSHMCACHE_DIR)/src -isystem $(LIBFASTCOMMON_DIR)/include
  BENCH_SRC  += bench/sys_shmcache.c
  BENCH_LIBS += $(LIBSHMCACHE_DIR)/src/libshmcache.a -L$(LIBFASTCOMMON_DIR)/lib -lfastcommon \
                -Wl,-rpath,$(abspath $(LIBFASTCOMMON_DIR)/lib)
endif

BENCH_OBJ  := $(patsubst bench/%,$(BUILD)/obj/bench/%.o,$(basename $(BENCH_SRC)))
BENCH_HDRS := $(wildcard bench/*.h)
# The peers this build has: the file is rewritten only when they change (a
# peer installed or removed since the last build), and then the objects are
# compiled and linked again.
BENCH_PEERS := $(BUILD)/obj/bench/peers

$(BENCH_PEERS): FORCE
	@mkdir -p $(dir $@)
	@echo '$(BENCH_DEFS)' | cmp -s - $@ || echo '$(BENCH_DEFS)' > $@

$(BUILD)/obj/bench/%.o: bench/%.c $(BENCH_HDRS) $(HDRS) $(BENCH_PEERS)
	@mkdir -p $(dir $@)
	$(CC) $(ALLFLAGS) $(BENCH_DEFS) -c $< -o $@

# Boost.Interprocess is C++ (header-only Boost).
$(BUILD)/obj/bench/%.o: bench/%.cpp $(BENCH_HDRS) $(BENCH_PEERS)
	@mkdir -p $(dir $@)
	$(CXX) -std=c++17 -pthread -fPIC -Wall -Wextra -Werror $(SANFLAGS) $(CFLAGS) -c $< -o $@

# The bench measures the library users get: the release objects, without
# the test hooks (a call at each pause point of every write).  Under a
# sanitizer it takes the instrumented (test) archive, which the tests'
# runs of the bench are there to check.
BENCH_SHMKV := $(if $(SAN),$(BUILD)/libshmkv-test.a,$(BUILD)/libshmkv.a)

$(BUILD)/shmkv-bench: $(BENCH_OBJ) $(BENCH_SHMKV) $(BENCH_PEERS)
	$(CC) $(ALLFLAGS) $(BENCH_OBJ) $(BENCH_SHMKV) -o $@ $(LDLIBS) $(BENCH_LIBS)

tools: $(BUILD)/shmkv-bench

.PHONY: bench bench-peers
BENCH_ARGS ?= --mix-seconds 1
# shmkv-bench with the source-tree peers (the variables above)
bench-peers: $(BUILD)/shmkv-bench
bench: $(BUILD)/shmkv-bench
	./$(BUILD)/shmkv-bench $(BENCH_ARGS)
