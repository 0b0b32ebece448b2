/*
 * server — FireMode's HTTP/1.1 server: listening, the request life cycle,
 * limits and deadlines, one log line per request, and graceful shutdown.
 */
#ifndef FM_SERVER_H
#define FM_SERVER_H

#include "http.h"

#include <stdbool.h>
#include <sys/socket.h>

struct server_config {
    const char *listen;  /* "127.0.0.1:8080", "[::1]:8080", ":8080", "localhost:8080" */
    const char *serving; /* what the start-up line says is served ("db sqlite:x.db, node n1") */
    int threads;         /* worker threads (the application gives each its own context) */
    bool priority_worker; /* one more worker for priority routes (/readyz, /metrics) */
    int conn_timeout_s;  /* idle keep-alive connection timeout */
    int header_timeout_s; /* a request head must arrive within this (408) */
    const char *cors_origin; /* --cors-origin: NULL (off), an origin, or "*" */
    int max_per_ip;      /* connections one client address may hold (0: no limit) */
    bool log_json;       /* log lines as JSON objects instead of text */
};

/* Serves until SIGTERM or SIGINT, then stops accepting, lets requests in
 * flight finish (up to a bound) and returns 0; -1 if it could not start. */
int server_run(const struct server_config *cfg, const struct http_app *app);

/* Splits "host:port"; false if malformed.  host[] gets the address text. */
int server_parse_listen(const char *listen, char *host, unsigned long hostcap, unsigned *port);

/* The socket address to listen on for host (an IPv4 or IPv6 literal, or a
 * host name resolved with getaddrinfo: its first IPv4 address, else its
 * first IPv6 one) and port.  0, or -1 with a message on stderr. */
int server_resolve(const char *host, unsigned port, struct sockaddr_storage *ss, bool *v6);

#endif
