# bindings/node/node.mk - the Node.js addon (bindings/node); included by
# the Makefile (which gives LIB_SRC).
#
#   make node        build it: npm install in bindings/node (node-addon-api
#                    from npm; then build.js builds build/libshmkv.a and the
#                    addon with node-gyp against the installed Node's headers)
#   make test-node   install what it needs when missing (install-deps.sh;
#                    redis-server and the agent for test/near.test.js: make
#                    redis-agent; its dev dependency ioredis from npm),
#                    build it and run its tests (node --test)
#   make bench-node  its benchmark, bench.js, after installing its npm peers
#                    (lru-cache, the redis client; not dependencies of the
#                    package); BENCH_NODE_ARGS=... for its options

NODE_DIR   := bindings/node
NODE_ADDON := $(NODE_DIR)/build/Release/shmkv.node
NODE_DEPS  := $(wildcard $(NODE_DIR)/src/*) $(NODE_DIR)/binding.gyp $(NODE_DIR)/build.js \
              $(NODE_DIR)/package.json $(LIB_SRC) $(wildcard src/*.h) include/shmkv.h
NPM_FLAGS  := --no-audit --no-fund --no-package-lock

.PHONY: node test-node bench-node
node: $(NODE_ADDON)

$(NODE_ADDON): $(NODE_DEPS)
	cd $(NODE_DIR) && npm install --omit=dev $(NPM_FLAGS)
	@touch $@

test-node:
	$(NODE_DIR)/install-deps.sh
	$(MAKE) --no-print-directory redis-agent
	$(MAKE) node
	cd $(NODE_DIR) && { node -e "require.resolve('ioredis')" 2>/dev/null || \
	    npm install --ignore-scripts $(NPM_FLAGS); }
	cd $(NODE_DIR) && node --test test/*.test.js

BENCH_NODE_PEERS := lru-cache@11 redis@4
bench-node: node
	cd $(NODE_DIR) && npm install --no-save $(NPM_FLAGS) $(BENCH_NODE_PEERS)
	cd $(NODE_DIR) && node bench.js $(BENCH_NODE_ARGS)

.PHONY: clean-node
clean: clean-node
clean-node:
	rm -rf $(NODE_DIR)/build $(NODE_DIR)/node_modules
