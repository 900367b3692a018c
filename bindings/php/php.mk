# The PHP extension's build and tests (bindings/php), included by the
# top-level Makefile.
#
#   make php         build bindings/php/modules/shmkv.so (phpize, configure,
#                    make; needs php8.2-dev) against build/libshmkv.a
#   make test-php    install what the tests need (scripts/install-deps.sh php;
#                    phpredis, redis-server and the agent for 020-near: make
#                    redis-agent), then the phpt tests (PHP's run-tests.php,
#                    through the extension's make test; a failing test's diff is
#                    printed, for CI's log) and the real PHP-FPM test
#   make php-clean   remove what phpize, configure and make generated
#   make bench-php   the benchmark against APCu (bindings/php/bench/run.sh)
#
# The extension always links the plain build's archive (build/libshmkv.a,
# release objects, -fPIC), whatever SAN says.

PHP_DIR := bindings/php
PHP_SO  := $(PHP_DIR)/modules/shmkv.so
PHP_SRC := $(wildcard $(PHP_DIR)/*.c $(PHP_DIR)/*.h)

.PHONY: php test-php php-clean bench-php

# First the archive and the tool (the tests use build/shmkv), then the
# extension, in that order (each sub-make builds from the plain build).
php:
	$(MAKE) SAN= BUILD=build build/libshmkv.a build/shmkv
	$(MAKE) SAN= BUILD=build $(PHP_SO)

$(PHP_DIR)/Makefile: $(PHP_DIR)/config.m4
	cd $(PHP_DIR) && phpize > /dev/null && ./configure --with-shmkv-src=$(CURDIR) > /dev/null

# phpize's Makefile knows the extension's sources, not the archive: a newer
# archive (or header) relinks the extension.  The near cache's record
# parser (tools/redis/record.[ch], which agent_record.c includes) is
# among the sources it tracks once it runs.
$(PHP_SO): $(PHP_DIR)/Makefile $(PHP_SRC) build/libshmkv.a include/shmkv.h tools/redis/record.c tools/redis/record.h
	rm -f $(PHP_DIR)/shmkv.la $(PHP_SO)
	$(MAKE) -C $(PHP_DIR)

test-php:
	./scripts/install-deps.sh php
	./scripts/install-deps.sh packages php8.2-redis
	$(MAKE) --no-print-directory redis-agent
	$(MAKE) php
	NO_INTERACTION=1 TEST_PHP_ARGS=--show-diff $(MAKE) -C $(PHP_DIR) test
	$(PHP_DIR)/tests/fpm/run.sh $(PHP_SO)

bench-php:
	./scripts/install-deps.sh php
	$(MAKE) php
	$(PHP_DIR)/bench/run.sh

php-clean:
	if [ -f $(PHP_DIR)/Makefile ]; then $(MAKE) -C $(PHP_DIR) distclean; fi
	cd $(PHP_DIR) && if command -v phpize > /dev/null; then phpize --clean > /dev/null; fi
	rm -f $(PHP_DIR)/config.h.in~ $(PHP_DIR)/configure~

clean: php-clean
