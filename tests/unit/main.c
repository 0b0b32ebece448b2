/*
 * main — runs every unit test group (see tests.h).
 *
 * cmocka prints one report per group; the exit status is the number of
 * failed tests over all groups (capped), so `make test-unit` fails when any
 * group does.
 */
#include "tests.h"

#include "model/collection.h"

#include <stdio.h>

int main(void)
{
    collections_init();
    int failed = 0;
    failed += test_text_run();
    failed += test_query_run();
    failed += test_plan_run();
    failed += test_clock_run();
    failed += test_walk_run();
    failed += test_store_run();
    failed += test_parse_run();
    if (failed) fprintf(stderr, "unit tests: %d failed\n", failed);
    return failed > 125 ? 125 : failed;
}
