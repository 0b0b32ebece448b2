/*
 * cli — the `firemode` subcommands other than serve, and what every command
 * shares: how a numeric flag is read.
 */
#ifndef FM_CLI_H
#define FM_CLI_H

#include <stdbool.h>
#include <stdint.h>

/* `firemode seed ...`; argv[0] is "seed".  Returns the exit status. */
int cli_seed(int argc, char **argv, const char *db_url, const char *node_id);
/* Prints `firemode seed`'s help to stdout. */
void cli_seed_usage(void);

/* Reads value, which came from flag (or environment variable) name, as a
 * whole decimal number in min..max: digits only (no "10k", "1e3", "abc",
 * no sign unless min < 0) that fit.  On anything else prints
 * "firemode CMD: NAME must be a whole number from MIN to MAX, not 'VALUE'"
 * to stderr and returns false (the caller exits with status 2). */
bool cli_int(const char *cmd, const char *name, const char *value, int64_t min, int64_t max, int64_t *out);

#endif
