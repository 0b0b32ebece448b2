/*
 * firemode — command line: serve, seed, user add.
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
          "\n"
          "options (flag, or environment variable; a flag wins):\n"
          "  --db URL              FIREMODE_DB       sqlite:PATH, sqlite::memory:, or postgresql://...\n"
          "                                          (default " DEFAULT_DB ")\n"
          "  --listen HOST:PORT    FIREMODE_LISTEN   (default " DEFAULT_LISTEN ")\n"
          "  --node-id ID          FIREMODE_NODE_ID  this server's name in vector clocks\n"
          "                                          (default: from host name and port)\n"
          "  --threads N           FIREMODE_THREADS  worker threads, each with a DB connection (default 4)\n"
          "  --max-conn-per-ip N   FIREMODE_MAX_CONN_PER_IP  connections one client address may hold\n"
          "                                          (default 256; 0 = no limit, e.g. behind a proxy)\n"
          "  --db-timeout MS       FIREMODE_DB_TIMEOUT_MS  the longest one database statement may take;\n"
          "                                          a database that does not answer in time is a 503\n"
          "                                          (default 2000)\n"
          "                        FIREMODE_ADMIN_TOKEN  when set, serve makes sure an active admin\n"
          "                                          admin@firemode.local exists and this token works for it\n",
          f);
}

struct options {
    const char *db, *listen, *node_id, *threads, *db_timeout, *per_ip;
    bool admin;
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
    const char *threads_s = o->threads ? o->threads : env_or("FIREMODE_THREADS", "4");
    int64_t threads;
    if (!int_parse(threads_s, strlen(threads_s), &threads) || threads < 1 || threads > 256) {
        fprintf(stderr, "firemode: --threads must be 1..256\n");
        return 2;
    }
    const char *timeout_s = o->db_timeout ? o->db_timeout : env_or("FIREMODE_DB_TIMEOUT_MS", "2000");
    int64_t timeout_ms;
    if (!int_parse(timeout_s, strlen(timeout_s), &timeout_ms) || timeout_ms < 100 || timeout_ms > 3600000) {
        fprintf(stderr, "firemode: --db-timeout must be 100..3600000 milliseconds\n");
        return 2;
    }
    store_set_timeout_ms((int)timeout_ms);
    const char *per_ip_s = o->per_ip ? o->per_ip : env_or("FIREMODE_MAX_CONN_PER_IP", "256");
    int64_t per_ip;
    if (!int_parse(per_ip_s, strlen(per_ip_s), &per_ip) || per_ip < 0 || per_ip > 1000) {
        fprintf(stderr, "firemode: --max-conn-per-ip must be 0..1000\n");
        return 2;
    }
    struct server_config cfg = {
        .listen = listen,
        .db_url = o->db ? o->db : env_or("FIREMODE_DB", DEFAULT_DB),
        .node_id = node_id,
        .threads = (int)threads,
        .conn_timeout_s = 30,
        .max_per_ip = (int)per_ip,
    };
    if (!store_url_valid(cfg.db_url)) {
        fprintf(stderr, "firemode: unsupported --db '%s' (want sqlite:PATH, sqlite::memory: or postgresql://...)\n",
                cfg.db_url);
        return 2;
    }
    /* An in-memory SQLite database lives in one connection's shared cache:
     * serve it from one worker so writers never meet a table lock. */
    if (strcmp(cfg.db_url, "sqlite::memory:") == 0) cfg.threads = 1;
    api_init(node_id);

    /* Migrate (and bootstrap) before listening; this connection stays open
     * for the life of the server (it keeps a :memory: database alive). */
    struct store_err err = {0};
    struct store *st = store_open(cfg.db_url, &err);
    if (!st || store_migrate(st, &err) < 0) {
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
    int rc = server_run(&cfg) == 0 ? 0 : 1;
    store_close(st);
    return rc;
}

static int cmd_user_add(struct options *o)
{
    if (o->npos != 2 || strcmp(o->positional[0], "add") != 0) {
        fputs("usage: firemode user add EMAIL [--admin] [--db URL]\n", stderr);
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

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            if (strcmp(cmd, "seed") == 0) return cli_seed(argc - 1, argv + 1, NULL, NULL);
            usage(stdout);
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
