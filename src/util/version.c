/*
 * version — see version.h.  Only this file sees FIREMODE_BUILD, so a new
 * build id recompiles one small file.
 */
#include "version.h"

#ifndef FIREMODE_BUILD
#define FIREMODE_BUILD "unknown"
#endif

const char *version_build(void)
{
    return FIREMODE_BUILD;
}
