/*
 * firemode — command line: serve, seed, openapi, user add, token list/revoke, recount.
 *
 * Configuration comes from flags or environment variables (a flag wins);
 * see usage() and README.md.
 */
#include "api/api.h"
#include "cli/cli.h"
#include "http/server.h"
#include "store/store.h"
#include "util/text.h"
#include "util/vclock.h"
#include "util/version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_DB "sqlite:firemode.db"
#define DEFAULT_LISTEN "127.0.0.1:8080"

static void usage(FILE *f)
{
    fputs("usage: firemode COMMAND [options]\n"
          "\n"
          "commands:\n"
          "  serve                 serve the HTTP API\n"
          "  seed                  fill the database with synthetic data (firemode seed --help)\n"
          "  openapi               print the OpenAPI 3.1 document (what GET /openapi.json serves)\n"
          "  user add EMAIL [--admin]\n"
          "                        create an active user and print a new API token\n"
          "  token list EMAIL      list a user's API tokens (id, created, last used; never the token)\n"
          "  token revoke TOKEN_ID revoke a token: from then on it is refused (401) by every server\n"
          "  recount               PostgreSQL: make the kept counts of unfiltered lists (include_total)\n"
          "                        again from the rows, and say how many scopes were wrong\n"
          "  --version             print the version and build\n"
          "\n"
          "options (flag, or environment variable; a flag wins):\n"
          "  --db URL              FIREMODE_DB       sqlite:PATH, sqlite::memory:, or postgresql://...\n"
          "                                          (default " DEFAULT_DB ")\n"
          "  --listen HOST:PORT    FIREMODE_LISTEN   (default " DEFAULT_LISTEN "; a host name, an IPv4\n"
          "                                          address, [IPv6] or :PORT for every IPv4 address)\n"
          "  --node-id ID          FIREMODE_NODE_ID  this server's name in vector clocks\n"
          "                                          (default: from host name and port)\n"
          "  --threads N           FIREMODE_THREADS  worker threads, each with a DB connection (default: the cores on SQLite, 2..16; 4 on PostgreSQL)\n"
          "  --max-conn-per-ip N   FIREMODE_MAX_CONN_PER_IP  connections one client address may hold\n"
          "                                          (default 256; 0 = no limit, e.g. behind a proxy)\n"
          "  --db-timeout MS       FIREMODE_DB_TIMEOUT_MS  the longest one database statement may take;\n"
          "                                          a database that does not answer in time is a 503\n"
          "                                          (default 2000)\n"
          "  --require-if-match    FIREMODE_REQUIRE_IF_MATCH  PUT, PATCH and DELETE without If-Match are a\n"
          "                                          428: turn it on once every client sends the ETag it\n"
          "                                          read, so that no write can overwrite an unseen one\n"
          "  --log-format FMT      FIREMODE_LOG_FORMAT  text (default) or json: one JSON object per line\n"
          "  --header-timeout S    FIREMODE_HEADER_TIMEOUT  seconds a request's headers may take to arrive\n"
          "                                          (then 408; default 10, 1..300)\n"
          "  --cors-origin ORIGIN  FIREMODE_CORS_ORIGIN  allow this browser origin (or *): preflights are\n"
          "                                          answered without a token (default: off)\n"
          "                        FIREMODE_ADMIN_TOKEN  when set, serve makes sure an active admin\n"
          "                                          admin@firemode.local exists and this token works for it\n",
          f);
}

static void usage_user(FILE *f)
{
    fputs("usage: firemode user add EMAIL [--admin] [--db URL] [--node-id ID]\n"
          "Creates an active user (an admin with --admin) and prints a new API token for it on\n"
          "stdout; the token is shown only then.  The database is --db or FIREMODE_DB\n"
          "(default " DEFAULT_DB ").\n",
          f);
}

static void usage_token(FILE *f)
{
    fputs("usage: firemode token list EMAIL [--db URL]\n"
          "       firemode token revoke TOKEN_ID [--db URL]\n"
          "list prints one line per token of the user with that email, newest first:\n"
          "  TOKEN_ID  CREATED_AT  LAST_USED_AT (\"-\" if never; updated at most once a minute)\n"
          "revoke deletes the token: from then on every server on the database answers it 401.\n",
          f);
}

struct options {
    const char *db, *listen, *node_id, *threads, *db_timeout, *per_ip, *log_format, *header_timeout, *cors_origin;
    bool admin, require_if_match;
    const char *positional[4];
    int npos;
};

static const char *env_or(const char *name, const char *def)
{
    const char *v = getenv(name);
    return v && *v ? v : def;
}

/* Parses the options common to every command; -1 on a bad one. */
static int parse_options(int argc, char **argv, int start, struct options *o, bool allow_unknown)
{
    for (int i = start; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = NULL;
        if (strcmp(a, "--db") == 0) slot = &o->db;
        else if (strcmp(a, "--listen") == 0) slot = &o->listen;
        else if (strcmp(a, "--node-id") == 0) slot = &o->node_id;
        else if (strcmp(a, "--threads") == 0) slot = &o->threads;
        else if (strcmp(a, "--db-timeout") == 0) slot = &o->db_timeout;
        else if (strcmp(a, "--max-conn-per-ip") == 0) slot = &o->per_ip;
        else if (strcmp(a, "--log-format") == 0) slot = &o->log_format;
        else if (strcmp(a, "--header-timeout") == 0) slot = &o->header_timeout;
        else if (strcmp(a, "--cors-origin") == 0) slot = &o->cors_origin;
        if (slot) {
            if (i + 1 >= argc) {
                fprintf(stderr, "firemode: %s needs a value\n", a);
                return -1;
            }
            *slot = argv[++i];
            continue;
        }
        if (strcmp(a, "--admin") == 0) {
            o->admin = true;
            continue;
        }
        if (strcmp(a, "--require-if-match") == 0) {
            o->require_if_match = true;
            continue;
        }
        if (a[0] == '-' && !allow_unknown) {
            fprintf(stderr, "firemode: unknown option '%s'\n", a);
            return -1;
        }
        if (a[0] != '-' && o->npos < 4) o->positional[o->npos++] = a;
    }
    return 0;
}

/* The node id a command writes into vector clocks must be a valid one. */
static bool node_id_ok(const char *id)
{
    if (vclock_valid_node(id, strlen(id))) return true;
    fprintf(stderr, "firemode: node id '%s' must match [A-Za-z0-9_.:-]{1,64}\n", id);
    return false;
}

static void default_node_id(const char *listen, char *out, size_t cap)
{
    char host[128] = "localhost";
    gethostname(host, sizeof host - 1);
    const char *port = strrchr(listen, ':');
    snprintf(out, cap, "%.40s-%s", host, port ? port + 1 : "8080");
    for (char *p = out; *p; p++)
        if (!vclock_valid_node(p, 1)) *p = '-';
}

/* A numeric setting of serve from its flag, else its environment variable,
 * else def; false (message printed, naming where it came from) if bad. */
static bool serve_int(const char *flag_value, const char *flag, const char *env, const char *def, int64_t min,
                      int64_t max, int64_t *out)
{
    const char *env_value = env_or(env, NULL);
    const char *v = flag_value ? flag_value : env_value ? env_value : def;
    return cli_int("serve", flag_value || !env_value ? flag : env, v, min, max, out);
}

static int cmd_serve(struct options *o)
{
    char node[80];
    const char *listen = o->listen ? o->listen : env_or("FIREMODE_LISTEN", DEFAULT_LISTEN);
    const char *node_id = o->node_id ? o->node_id : env_or("FIREMODE_NODE_ID", NULL);
    if (!node_id) {
        default_node_id(listen, node, sizeof node);
        node_id = node;
    }
    if (!node_id_ok(node_id)) return 2;
    int64_t threads, timeout_ms, per_ip, header_s;
    /* SQLite runs inside the workers: more of them than cores only queue on
     * the same cores and stretch the tail (wrk -t2 -c64 on 2 cores: p99
     * 4.6-5.0 ms with 2, 7.1-7.4 ms with 4, at 8% more req/s with 2).
     * PostgreSQL's workers wait on the network: 4. */
    const char *db_url = o->db ? o->db : env_or("FIREMODE_DB", DEFAULT_DB);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    char def_threads[24];
    snprintf(def_threads, sizeof def_threads, "%ld",
             strncmp(db_url, "sqlite:", 7) == 0 ? (ncpu < 2 ? 2 : ncpu > 16 ? 16 : ncpu) : 4L);
    if (!serve_int(o->threads, "--threads", "FIREMODE_THREADS", def_threads, 1, 256, &threads) ||
        !serve_int(o->db_timeout, "--db-timeout", "FIREMODE_DB_TIMEOUT_MS", "2000", 100, 3600000, &timeout_ms) ||
        !serve_int(o->per_ip, "--max-conn-per-ip", "FIREMODE_MAX_CONN_PER_IP", "256", 0, 1000, &per_ip) ||
        !serve_int(o->header_timeout, "--header-timeout", "FIREMODE_HEADER_TIMEOUT", "10", 1, 300, &header_s))
        return 2;
    store_set_timeout_ms((int)timeout_ms);
    const char *log_format = o->log_format ? o->log_format : env_or("FIREMODE_LOG_FORMAT", "text");
    if (strcmp(log_format, "text") != 0 && strcmp(log_format, "json") != 0) {
        fprintf(stderr, "firemode serve: %s must be text or json, not '%.64s'\n",
                o->log_format ? "--log-format" : "FIREMODE_LOG_FORMAT", log_format);
        return 2;
    }
    struct server_config cfg = {
        .listen = listen,
        .threads = (int)threads,
        .conn_timeout_s = 30,
        .header_timeout_s = (int)header_s,
        .cors_origin = o->cors_origin ? o->cors_origin : env_or("FIREMODE_CORS_ORIGIN", NULL),
        .max_per_ip = (int)per_ip,
        .log_json = strcmp(log_format, "json") == 0,
    };
    if (!store_url_valid(db_url)) {
        fprintf(stderr, "firemode: unsupported --db '%s' (want sqlite:PATH, sqlite::memory: or postgresql://...)\n",
                db_url);
        return 2;
    }
    /* An in-memory SQLite database lives in one connection's shared cache:
     * serve it from one worker so writers never meet a table lock. */
    bool in_memory = strcmp(db_url, "sqlite::memory:") == 0;
    if (in_memory) cfg.threads = 1;
    cfg.priority_worker = !in_memory;
    char serving[512];
    snprintf(serving, sizeof serving, "db %.300s, node %.100s",
             strncmp(db_url, "sqlite:", 7) == 0 ? db_url : "postgresql", node_id);
    cfg.serving = serving;
    api_init(node_id);
    const char *rim = env_or("FIREMODE_REQUIRE_IF_MATCH", "");
    bool rim_on = false;
    if (*rim && !bool_parse(rim, strlen(rim), &rim_on)) {
        fprintf(stderr, "firemode: FIREMODE_REQUIRE_IF_MATCH must be true or false\n");
        return 2;
    }
    api_set_require_if_match(o->require_if_match || rim_on);

    /* Migrate (and bootstrap) before listening; this connection stays open
     * for the life of the server (it keeps a :memory: database alive). */
    struct store_err err = {0};
    struct store *st = store_open(db_url, &err);
    if (!st || store_migrate(st, &err) < 0 || api_prepare(st, &err) < 0) {
        fprintf(stderr, "firemode: cannot prepare the database: %s\n", err.msg);
        store_close(st);
        return 1;
    }
    const char *admin_token = getenv("FIREMODE_ADMIN_TOKEN");
    if (admin_token && *admin_token) {
        if (strlen(admin_token) > 256) {
            fprintf(stderr, "firemode: FIREMODE_ADMIN_TOKEN is longer than 256 characters\n");
            store_close(st);
            return 2;
        }
        if (accounts_bootstrap_admin(st, admin_token, &err) < 0) {
            fprintf(stderr, "firemode: cannot bootstrap the admin user: %s\n", err.msg);
            store_close(st);
            return 1;
        }
    }
    int rc = server_run(&cfg, api_app(db_url)) == 0 ? 0 : 1;
    store_close(st);
    return rc;
}

static int cmd_user_add(struct options *o)
{
    if (o->npos != 2 || strcmp(o->positional[0], "add") != 0) {
        usage_user(stderr);
        return 2;
    }
    const char *db = o->db ? o->db : env_or("FIREMODE_DB", DEFAULT_DB);
    const char *node_id = o->node_id ? o->node_id : env_or("FIREMODE_NODE_ID", "cli");
    if (!node_id_ok(node_id)) return 2;
    api_init(node_id);
    struct store_err err = {0};
    struct store *st = store_open(db, &err);
    if (!st || store_migrate(st, &err) < 0) {
        fprintf(stderr, "firemode: %s\n", err.msg);
        store_close(st);
        return 1;
    }
    char token[47], user_id[37];
    int rc = accounts_add_user(st, o->positional[1], o->admin, token, user_id, &err);
    store_close(st);
    if (rc == 1) {
        fprintf(stderr, "firemode: a user with email '%s' exists already\n", o->positional[1]);
        return 1;
    }
    if (rc < 0) {
        fprintf(stderr, "firemode: %s\n", err.msg);
        return 1;
    }
    fprintf(stderr, "created %suser %s (%s); its API token, shown only now:\n", o->admin ? "admin " : "",
            o->positional[1], user_id);
    printf("%s\n", token);
    return 0;
}

/* Opens and migrates the database of a command other than serve. */
static struct store *cli_store(struct options *o)
{
    const char *db = o->db ? o->db : env_or("FIREMODE_DB", DEFAULT_DB);
    struct store_err err = {0};
    struct store *st = store_open(db, &err);
    if (!st || store_migrate(st, &err) < 0) {
        fprintf(stderr, "firemode: %s\n", err.msg);
        store_close(st);
        return NULL;
    }
    return st;
}

static int print_token(void *ctx, const char *token_id, int64_t created_at, int64_t last_used_at)
{
    struct buf b;
    buf_init(&b);
    buf_printf(&b, "%s  ", token_id);
    time_format(&b, created_at);
    buf_puts(&b, "  ");
    if (last_used_at >= 0) time_format(&b, last_used_at);
    else buf_puts(&b, "-");
    printf("%s\n", b.data);
    buf_free(&b);
    (*(long *)ctx)++;
    return 0;
}

static int cmd_recount(struct options *o)
{
    struct store *st = cli_store(o);
    if (!st) return 1;
    struct store_err err = {0};
    long changed;
    int rc = store_recount(st, &changed, &err);
    store_close(st);
    if (rc < 0) {
        fprintf(stderr, "firemode: %s\n", err.msg);
        return 1;
    }
    if (changed < 0)
        printf("nothing to recount: this database counts its rows when asked (SQLite)\n");
    else
        printf("kept counts made again from the rows: %ld scope%s had a wrong count\n", changed,
               changed == 1 ? "" : "s");
    return 0;
}

static int cmd_token(struct options *o)
{
    bool list = o->npos == 2 && strcmp(o->positional[0], "list") == 0;
    bool revoke = o->npos == 2 && strcmp(o->positional[0], "revoke") == 0;
    if (!list && !revoke) {
        usage_token(stderr);
        return 2;
    }
    char id[37];
    if (revoke && !uuid_parse(o->positional[1], strlen(o->positional[1]), id)) {
        fprintf(stderr, "firemode token revoke: '%.64s' is not a token id (a UUID, as token list shows)\n",
                o->positional[1]);
        return 2;
    }
    api_init("cli");
    struct store *st = cli_store(o);
    if (!st) return 1;
    struct store_err err = {0};
    int rc;
    long n = 0;
    if (list) rc = accounts_list_tokens(st, o->positional[1], print_token, &n, &err);
    else rc = accounts_revoke_token(st, id, &err);
    store_close(st);
    if (rc < 0) {
        fprintf(stderr, "firemode token: %s\n", err.msg);
        return 1;
    }
    if (rc == 1) {
        if (list) fprintf(stderr, "firemode token list: no user with email '%.254s'\n", o->positional[1]);
        else fprintf(stderr, "firemode token revoke: no token %s (revoked already?)\n", id);
        return 1;
    }
    if (list) fprintf(stderr, "%ld token%s\n", n, n == 1 ? "" : "s");
    else fprintf(stderr, "revoked token %s\n", id);
    return 0;
}

static bool is_help(const char *a)
{
    return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0 || strcmp(a, "help") == 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || is_help(argv[1])) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("firemode %s (build %s)\n", FIREMODE_VERSION, version_build());
        return 0;
    }
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            if (strcmp(cmd, "seed") == 0) cli_seed_usage();
            else if (strcmp(cmd, "user") == 0) usage_user(stdout);
            else if (strcmp(cmd, "token") == 0) usage_token(stdout);
            else usage(stdout);
            return 0;
        }
    struct options o = {0};
    if (strcmp(cmd, "serve") == 0) {
        if (parse_options(argc, argv, 2, &o, false) < 0 || o.npos) {
            usage(stderr);
            return 2;
        }
        return cmd_serve(&o);
    }
    if (strcmp(cmd, "user") == 0) {
        if (parse_options(argc, argv, 2, &o, false) < 0) return 2;
        return cmd_user_add(&o);
    }
    if (strcmp(cmd, "token") == 0) {
        if (parse_options(argc, argv, 2, &o, false) < 0) return 2;
        return cmd_token(&o);
    }
    if (strcmp(cmd, "recount") == 0) {
        if (parse_options(argc, argv, 2, &o, false) < 0 || o.npos) {
            usage(stderr);
            return 2;
        }
        return cmd_recount(&o);
    }
    if (strcmp(cmd, "seed") == 0) {
        if (parse_options(argc, argv, 2, &o, true) < 0) return 2;
        const char *db = o.db ? o.db : env_or("FIREMODE_DB", DEFAULT_DB);
        const char *node = o.node_id ? o.node_id : env_or("FIREMODE_NODE_ID", "seed");
        if (!node_id_ok(node)) return 2;
        api_init(node);
        return cli_seed(argc - 1, argv + 1, db, node);
    }
    if (strcmp(cmd, "openapi") == 0 && argc == 2) {
        api_init("cli");
        size_t len;
        const char *doc = api_openapi_json(&len);
        return fwrite(doc, 1, len, stdout) == len && fputc('\n', stdout) != EOF ? 0 : 1;
    }
    fprintf(stderr, "firemode: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
