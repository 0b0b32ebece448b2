#!/usr/bin/env bash
# Runs every test (make test):
#   1. C unit tests of the grammar, planner and helpers (cmocka, ASan+UBSan),
#      and a replay of the fuzz corpus through the fuzz target;
#   2. the black-box API suite against SQLite, with the normal server and with
#      the server built under AddressSanitizer + UndefinedBehaviorSanitizer;
#      every answer checked against the server's /openapi.json, which is itself
#      validated (OpenAPI 3.1 schema, npm @seriousme/openapi-schema-validator);
#      then Swagger UI at /docs driven in chromium (tests/browser);
#   3. the same suite against a private PostgreSQL 15 (started and stopped
#      here), plus the PostgreSQL-only tests (differential, faults, two servers).
# Any failure, or any sanitizer report, fails the run.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:symbolize=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
start=$(date +%s)

echo "== build"
make -s -j2 build/firemode docs build/asan/firemode build/test_unit build/fuzz_grammar build/fuzz_body build/fuzz_token build/fuzz_http build/plan_sql build/sqlite_alone || { echo "build failed"; exit 1; }

passed=0
failed=0
step() { # step LABEL CMD...
  local label=$1; shift
  echo "== $label"
  if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "!! FAILED: $label"; fi
}
pytest_api() { # pytest_api BINARY BACKEND [extra test paths]
  local bin=$1 backend=$2; shift 2
  FIREMODE_BIN=$bin FIREMODE_TEST_BACKEND=$backend $PY -m pytest -q -p no:cacheprovider tests/api "$@"
}

step "layers: every #include points down (scripts/check-layers.sh)" scripts/check-layers.sh
step "unit tests (cmocka, ASan+UBSan)" build/test_unit
step "fuzz corpus replay (libFuzzer regression inputs)" bash -c \
  "build/fuzz_grammar -runs=0 tests/fuzz/corpus && build/fuzz_body -runs=0 tests/fuzz/corpus-body && build/fuzz_token -runs=0 tests/fuzz/corpus-token && build/fuzz_http -runs=0 tests/fuzz/corpus-http"
step "API tests: SQLite" pytest_api build/firemode sqlite
step "API tests: SQLite, ASan+UBSan" pytest_api build/asan/firemode sqlite
step "browser test: Swagger UI at /docs (chromium)" env FIREMODE_BIN=build/firemode FIREMODE_TEST_BACKEND=sqlite \
  $PY -m pytest -q -s -p no:cacheprovider tests/browser

pg_suite() {
  local rc=0
  pytest_api build/firemode postgres || rc=1
  pytest_api build/asan/firemode postgres || rc=1
  if [ -d tests/pg ]; then
    FIREMODE_BIN=build/firemode $PY -m pytest -q -p no:cacheprovider tests/pg || rc=1
  fi
  return $rc
}
step "API tests: PostgreSQL (normal and ASan+UBSan) and PostgreSQL-only tests" scripts/with-postgres.sh bash -c "$(declare -f pytest_api pg_suite); PY=$PY; pg_suite"

echo "== make test took $(( $(date +%s) - start )) s"
echo "make test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
