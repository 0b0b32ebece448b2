/*
 * tests — the unit test groups of build/test_unit.
 *
 * Every .c file in tests/unit but main.c defines one cmocka group and exports one
 * runner declared here; main.c runs them all and exits non-zero if any test
 * failed.  The tests need no database, no network and no clock: they call
 * the pure modules (grammar, planner, text, url, buf) directly; test_store
 * alone opens SQLite files in a temporary directory (the statement deadline).
 */
#ifndef FM_TESTS_H
#define FM_TESTS_H

/* Each returns the number of failed tests of its group (0 = all passed). */
int test_query_run(void);
int test_plan_run(void);
int test_text_run(void);
int test_clock_run(void);
int test_walk_run(void);
int test_store_run(void);
int test_parse_run(void);

#endif
