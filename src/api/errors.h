/*
 * errors — 422 answers that list every problem of a request (CONTRACT.md §9
 * "Errors"), in FastAPI's shape:
 *
 *   {"detail":[{"loc":[where,name],"msg":"...","type":"..."}, ...]}
 *
 * The problems are collected in a struct lq_error (grammar/query.h: sorted
 * by position, at most LQ_MAX_ERRORS, each message bounded) by the query
 * grammar and by body validation alike; this renders one.
 */
#ifndef FM_API_ERRORS_H
#define FM_API_ERRORS_H

#include "../grammar/query.h"
#include "../http/http.h"

/* Answers 422 with every issue of e (e->n >= 1), loc [where, issue.loc].  One issue alone marked as_string (an
 * unsupported sort) is answered {"detail":"msg"}, as CONTRACT.md §2 shows;
 * with others it is one entry of the list like any other. */
void api_invalid(struct request *r, const char *where, const struct lq_error *e);

#endif
