# bindings/cxx/cxx.mk - the C++ header's tests; included by the Makefile.
#
#   make test-cxx   build bindings/cxx/test_table.cpp, test_lists.cpp and
#                   example.cpp against include/shmkv.hpp (and the
#                   shmkv_lists.hpp it includes) with g++ and clang++, each
#                   plain and under ASan+UBSan, and run them all ->
#                   build/cxx/VARIANT/; and the README's C++ section's
#                   code, put into a main(), with g++; and where hiredis's
#                   headers are, test_near.cpp (shmkv_near.hpp, the Redis
#                   near cache's reader) with g++ against a real
#                   redis-server and agent (make redis-agent) ->
#                   build/cxx/near/test_near
#
# The plain builds link build/libshmkv.a; the sanitized ones the library's
# sources compiled by the C compiler that goes with the C++ one (gcc with
# g++, clang with clang++), so that one sanitizer runtime serves both.

CXX_TEST_FLAGS := -std=c++17 -Wall -Wextra -Werror -Wpedantic -Wshadow -g -O1 -pthread -Iinclude
CXX_SAN_FLAGS  := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
CXX_VARIANTS   := g++ clang++ g++-asan clang++-asan
CXX_DEPS       := include/shmkv.hpp include/shmkv_lists.hpp include/shmkv.h bindings/cxx/check.hpp

# $(1) variant, $(2) C++ compiler, $(3) C compiler, $(4) sanitizer flags
define cxx_variant
CXX_LIB_$(1) := $(if $(4),$(LIB_SRC:src/%.c=build/cxx/$(1)/obj/%.o),build/libshmkv.a)
build/cxx/$(1)/obj/%.o: src/%.c $(wildcard src/*.h) include/shmkv.h
	@mkdir -p $$(dir $$@)
	$(3) -std=c11 -D_GNU_SOURCE -pthread -g -O1 $(4) -Iinclude -Isrc -c $$< -o $$@
build/cxx/$(1)/%: bindings/cxx/%.cpp $(CXX_DEPS) $$(CXX_LIB_$(1))
	@mkdir -p $$(dir $$@)
	$(2) $(CXX_TEST_FLAGS) $(4) $$< $$(CXX_LIB_$(1)) -o $$@
endef
$(eval $(call cxx_variant,g++,g++,gcc,))
$(eval $(call cxx_variant,clang++,clang++,clang,))
$(eval $(call cxx_variant,g++-asan,g++,gcc,$(CXX_SAN_FLAGS)))
$(eval $(call cxx_variant,clang++-asan,clang++,clang,$(CXX_SAN_FLAGS)))
# the sanitized library objects stay between runs (make would delete them
# as intermediate files)
.SECONDARY: $(CXX_LIB_g++-asan) $(CXX_LIB_clang++-asan)

CXX_BINS := $(foreach v,$(CXX_VARIANTS),build/cxx/$(v)/test_table build/cxx/$(v)/test_lists \
              build/cxx/$(v)/example) \
            build/cxx/g++/readme

# The README's C++ code (the first ```cpp block after "## C++"): its
# #include lines, then the rest as the body of main().
build/cxx/readme.cpp: README.md
	@mkdir -p $(dir $@)
	awk '/^## C\+\+/ { s = 1 } s && /^```cpp$$/ { c = 1; next } c && /^```$$/ { exit } c' $< >$@.code
	{ grep '^#include' $@.code; echo '#include <iostream>'; echo 'int main()'; echo '{'; \
	  grep -v '^#include' $@.code; echo '}'; } >$@
	rm -f $@.code
build/cxx/g++/readme: build/cxx/readme.cpp $(CXX_DEPS) build/libshmkv.a
	g++ $(CXX_TEST_FLAGS) $< build/libshmkv.a -o $@

# The near cache's reader: the C kit of tools/redis/test (servers, agent)
# and the harness, compiled as C (near_kit.c gives them to the C++ test),
# linked with libshmkv-redis.a as the C tests are.  build/cxx/near/test_near
# finds the agent three directories up, at build/shmkv-redis.
CXX_NEAR_HAVE := $(call have_header,hiredis/hiredis.h,$(CC),c)
CXX_NEAR_C    := bindings/cxx/near_kit.c tools/redis/test/kit_servers.c tools/redis/test/kit_agent.c test/harness.c
CXX_NEAR_OBJ  := $(CXX_NEAR_C:%.c=build/cxx/near/obj/%.o)
CXX_NEAR_LIBS := build/libshmkv-redis.a build/libshmkv-test.a
build/cxx/near/obj/%.o: %.c bindings/cxx/near_kit.h $(wildcard tools/redis/test/*.h tools/redis/*.h) \
                        test/harness.h include/shmkv-redis.h include/shmkv.h
	@mkdir -p $(dir $@)
	$(CC) $(filter-out -Isrc,$(BASEFLAGS)) -DSHMKV_TEST_HOOKS $(CFLAGS) -Itools/redis -Itools/redis/test -Itest \
	    -Ibindings/cxx -fvisibility=default -c $< -o $@
build/cxx/near/test_near: bindings/cxx/test_near.cpp bindings/cxx/shmkv_near.hpp bindings/cxx/near_kit.h \
                          $(CXX_DEPS) $(CXX_NEAR_OBJ) $(CXX_NEAR_LIBS)
	g++ $(CXX_TEST_FLAGS) $< $(CXX_NEAR_OBJ) $(CXX_NEAR_LIBS) -lhiredis -o $@

.PHONY: test-cxx test-cxx-near
test-cxx: $(if $(CXX_NEAR_HAVE),test-cxx-near)
	./scripts/install-deps.sh cxx
	$(MAKE) --no-print-directory SAN= lib
	$(MAKE) --no-print-directory SAN= $(CXX_BINS)
	@for v in $(CXX_VARIANTS); do \
	    echo "test-cxx: $$v"; \
	    ./build/cxx/$$v/test_table || exit 1; \
	    ./build/cxx/$$v/test_lists || exit 1; \
	    d=$$(mktemp -d /dev/shm/shmkv-cxx-example.XXXXXX); \
	    SHMKV_DIR=$$d ./build/cxx/$$v/example >/dev/null || { rm -rf "$$d"; exit 1; }; \
	    rmdir "$$d" || { echo "test-cxx: example left tables behind"; rm -rf "$$d"; exit 1; }; \
	done
	@echo "test-cxx: the README's C++ code"
	@d=$$(mktemp -d /dev/shm/shmkv-cxx-readme.XXXXXX); \
	    SHMKV_DIR=$$d ./build/cxx/g++/readme >/dev/null; rc=$$?; rm -rf "$$d"; exit $$rc

test-cxx-near:
	./scripts/install-deps.sh cxx
	$(MAKE) --no-print-directory redis-agent
	$(MAKE) --no-print-directory SAN= BUILD=build build/libshmkv-redis.a build/libshmkv-test.a build/cxx/near/test_near
	./build/cxx/near/test_near
