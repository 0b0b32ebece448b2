# FireMode — build, run, test.  See README.md.
#
#   make          build build/firemode and its Swagger UI files (build/docs, from npm)
#   make run      install what is missing, build, serve on SQLite
#   make test     install what is missing, build, run every test (also under ASan+UBSan)
#   make fuzz     run the fuzz targets (grammar, bodies, tokens, HTTP parser) FUZZ_SECONDS each (libFuzzer, clang)
#   make bench    measure req/s of list requests on SQLite and PostgreSQL (wrk)

CC      ?= cc
PKGS    := zlib jansson sqlite3 libpq libcrypto
WARN    := -Wall -Wextra -Werror -Wmissing-prototypes -Wstrict-prototypes -Wshadow -Wno-unused-parameter
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c17 -D_GNU_SOURCE $(WARN) -pthread
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
SAN     := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

LIB_SRC := $(sort $(wildcard src/util/*.c src/store/*.c src/model/*.c src/grammar/*.c src/api/*.c src/http/*.c src/cli/*.c))
MAIN_SRC := src/main.c
HDRS    := $(wildcard src/*/*.h src/*.h)
OBJ     := $(patsubst src/%.c,build/obj/%.o,$(LIB_SRC) $(MAIN_SRC))
SAN_OBJ := $(patsubst src/%.c,build/asan/obj/%.o,$(LIB_SRC) $(MAIN_SRC))
LIB_OBJ := $(patsubst src/%.c,build/obj/%.o,$(LIB_SRC))
# The pure parts the fuzzer links: no HTTP, no database.
FUZZ_SRC := src/grammar/query.c src/grammar/plan.c src/grammar/token.c src/model/collections.c src/model/types.c src/util/text.c src/util/buf.c src/util/crypto.c src/util/url.c
HTTP_FUZZ_SRC := src/http/parse.c src/util/buf.c
TOKEN_FUZZ_SRC := src/grammar/token.c src/api/precond.c src/util/vclock.c src/util/text.c src/util/buf.c src/util/crypto.c
FUZZ_SECONDS ?= 60

.PHONY: all run test test-unit fuzz bench deps deps-test clean docs
all: build/firemode docs build/sqlite_alone

# Swagger UI for GET /docs: npm's swagger-ui-dist (pinned in package-lock.json)
# and our page from web/docs, copied beside the binary (src/api/docs.c says
# how the server finds them).
DOCS_DIST := swagger-ui.css swagger-ui-bundle.js favicon-32x32.png
docs: build/docs/.stamp

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

build/docs/.stamp: node_modules/.package-lock.json web/docs/index.html web/docs/swagger-initializer.js
	@mkdir -p build/docs
	cp $(addprefix node_modules/swagger-ui-dist/,$(DOCS_DIST)) web/docs/index.html web/docs/swagger-initializer.js build/docs/
	@touch $@

# The build id (`git describe`) goes into one object, src/util/version.c;
# build/build-info changes only when the id does, so only then is it rebuilt.
BUILD_INFO := $(shell git describe --always --dirty 2>/dev/null | tr -cd 'A-Za-z0-9._+-')
BUILD_INFO := $(if $(BUILD_INFO),$(BUILD_INFO),unknown)
$(shell mkdir -p build && (echo '$(BUILD_INFO)' | cmp -s - build/build-info || echo '$(BUILD_INFO)' > build/build-info))
build/obj/util/version.o build/asan/obj/util/version.o: build/build-info
build/obj/util/version.o build/asan/obj/util/version.o: CFLAGS += -DFIREMODE_BUILD='"$(BUILD_INFO)"'

deps:
	@scripts/install-deps.sh

deps-test:
	@scripts/install-deps.sh test

build/firemode: $(OBJ)
	$(CC) $(CFLAGS) -o $@ $(OBJ) $(PKG_LIBS)

build/obj/%.o: src/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

build/asan/firemode: $(SAN_OBJ)
	$(CC) $(CFLAGS) $(SAN) -o $@ $(SAN_OBJ) $(PKG_LIBS)

build/asan/obj/%.o: src/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) $(PKG_CFLAGS) -c -o $@ $<

build/test_unit: $(wildcard tests/unit/*.c) $(LIB_SRC) $(HDRS)
	@mkdir -p build
	$(CC) $(CFLAGS) $(SAN) $(PKG_CFLAGS) -Isrc -o $@ $(wildcard tests/unit/*.c) $(LIB_SRC) $(PKG_LIBS) $(shell pkg-config --libs cmocka)

build/fuzz_grammar: tests/fuzz/fuzz_grammar.c $(FUZZ_SRC) $(HDRS)
	@mkdir -p build
	clang -std=c17 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Isrc \
	  $(shell pkg-config --cflags jansson) -o $@ tests/fuzz/fuzz_grammar.c $(FUZZ_SRC) $(shell pkg-config --libs libcrypto jansson)

# Prints the exact SQL of cursor pages (tests/pg/test_plans.py pins their plans).
build/plan_sql: tests/plans/plan_sql.c $(LIB_OBJ) $(HDRS)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -Isrc -o $@ tests/plans/plan_sql.c $(LIB_OBJ) $(PKG_LIBS)

# make bench's SQLite alone: runs one of plan_sql's statements on 2 threads (scripts/bench.sh).
build/sqlite_alone: tests/bench/sqlite_alone.c
	@mkdir -p build
	$(CC) $(CFLAGS) $(shell pkg-config --cflags sqlite3 jansson) -o $@ $< $(shell pkg-config --libs sqlite3 jansson)

build/fuzz_token: tests/fuzz/fuzz_token.c $(TOKEN_FUZZ_SRC) $(HDRS)
	@mkdir -p build
	clang -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter -g -O1 \
	  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Isrc \
	  -o $@ tests/fuzz/fuzz_token.c $(TOKEN_FUZZ_SRC) $(shell pkg-config --libs libcrypto jansson)

build/fuzz_http: tests/fuzz/fuzz_http.c $(HTTP_FUZZ_SRC) $(HDRS)
	@mkdir -p build
	clang -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter -g -O1 \
	  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Isrc \
	  -o $@ tests/fuzz/fuzz_http.c $(HTTP_FUZZ_SRC)

# Request bodies: links the whole server but main (body validation answers
# through the HTTP layer's response functions).
build/fuzz_body: tests/fuzz/fuzz_body.c $(LIB_SRC) $(HDRS)
	@mkdir -p build
	clang -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter -g -O1 \
	  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Isrc \
	  $(PKG_CFLAGS) -o $@ tests/fuzz/fuzz_body.c $(LIB_SRC) $(PKG_LIBS)

run: deps build/firemode docs
	build/firemode serve

test: deps-test
	@scripts/run-tests.sh

test-unit: build/test_unit
	build/test_unit

fuzz: deps-test build/fuzz_grammar build/fuzz_body build/fuzz_token build/fuzz_http
	@mkdir -p build/fuzz-corpus build/fuzz-corpus-body build/fuzz-corpus-token build/fuzz-corpus-http
	build/fuzz_grammar -max_total_time=$(FUZZ_SECONDS) -max_len=4096 build/fuzz-corpus tests/fuzz/corpus
	build/fuzz_body -max_total_time=$(FUZZ_SECONDS) -max_len=65536 build/fuzz-corpus-body tests/fuzz/corpus-body
	build/fuzz_token -max_total_time=$(FUZZ_SECONDS) -max_len=8192 build/fuzz-corpus-token tests/fuzz/corpus-token
	build/fuzz_http -max_total_time=$(FUZZ_SECONDS) -max_len=40000 build/fuzz-corpus-http tests/fuzz/corpus-http

bench: deps-test build/firemode build/plan_sql build/sqlite_alone docs
	@scripts/bench.sh

clean:
	rm -rf build
