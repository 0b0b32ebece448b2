/*
 * version — the one place FireMode's version is written down.
 *
 * FIREMODE_VERSION is the release; version_build() says which build this
 * is (the Makefile passes `git describe` as FIREMODE_BUILD when the source
 * is a git checkout; otherwise "unknown").  `firemode --version` and
 * GET /healthz print both.
 */
#ifndef FM_VERSION_H
#define FM_VERSION_H

#define FIREMODE_VERSION "0.2.0"

/* The build this binary came from, e.g. "0d56843-dirty"; never NULL. */
const char *version_build(void);

#endif
