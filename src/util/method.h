/*
 * method — HTTP request methods as bits, shared by the HTTP layer (a
 * request's method) and the model (which methods a collection answers),
 * so that neither includes the other.
 */
#ifndef FM_METHOD_H
#define FM_METHOD_H

enum method {
    M_GET = 1 << 0, M_HEAD = 1 << 1, M_POST = 1 << 2, M_PUT = 1 << 3,
    M_PATCH = 1 << 4, M_DELETE = 1 << 5, M_OPTIONS = 1 << 6,
};

#endif
