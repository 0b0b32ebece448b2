/*
 * cli — the `firemode` subcommands other than serve.
 */
#ifndef FM_CLI_H
#define FM_CLI_H

/* `firemode seed ...`; argv[0] is "seed".  Returns the exit status. */
int cli_seed(int argc, char **argv, const char *db_url, const char *node_id);

#endif
