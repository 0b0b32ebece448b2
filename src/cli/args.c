/*
 * args — numeric command-line values, checked one way for every command.
 *
 * strtol() reads "10k" as 10 and "abc" as 0; a seed of 10 rows where 10,000
 * were meant is worse than an error.  Every numeric flag and environment
 * variable goes through cli_int: the whole text must be the number.
 */
#include "cli.h"

#include "../util/text.h"

#include <stdio.h>
#include <string.h>

bool cli_int(const char *cmd, const char *name, const char *value, int64_t min, int64_t max, int64_t *out)
{
    int64_t v = 0;
    size_t n = value ? strlen(value) : 0;
    /* int_parse takes a leading '+' or '-'; a count is plain digits */
    bool signed_ok = min < 0 || (n && value[0] >= '0' && value[0] <= '9');
    if (value && signed_ok && int_parse(value, n, &v) && v >= min && v <= max) {
        *out = v;
        return true;
    }
    fprintf(stderr, "firemode %s: %s must be a whole number from %lld to %lld, not '%.64s'\n", cmd, name,
            (long long)min, (long long)max, value ? value : "");
    return false;
}
