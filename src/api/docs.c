/*
 * docs — GET /docs: Swagger UI over /openapi.json, from the server's own
 * files (no CDN, nothing fetched at run time).
 *
 * The build (make) installs npm's swagger-ui-dist (pinned in
 * package-lock.json) and copies the few files the page needs, with our
 * index.html and initializer from web/docs/, into build/docs/.  The server
 * looks for that directory beside its binary, so `make run`, build/firemode
 * and build/asan/firemode all find it wherever they are started from:
 *
 *   $FIREMODE_DOCS_DIR, else <dir of the binary>/docs, <dir>/../docs,
 *   <dir>/../share/firemode/docs (an installed layout)
 *
 * The files are read once, on the first /docs request, and served from
 * memory; only the names in the table below are served (no paths from the
 * client ever reach the file system).  Missing files: 503 saying so.
 */
#include "api_int.h"

#include "../util/text.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DOCS_MAX_FILE (8 * 1024 * 1024)

static struct docs_file {
    const char *name; /* under /docs/; "" is /docs itself */
    const char *disk; /* file name in the docs directory */
    const char *content_type;
    char *data;       /* loaded once */
    size_t len;
} files[] = {
    {"", "index.html", "text/html; charset=utf-8", NULL, 0},
    {"swagger-ui.css", "swagger-ui.css", "text/css", NULL, 0},
    {"swagger-ui-bundle.js", "swagger-ui-bundle.js", "application/javascript", NULL, 0},
    {"swagger-initializer.js", "swagger-initializer.js", "application/javascript", NULL, 0},
    {"favicon-32x32.png", "favicon-32x32.png", "image/png", NULL, 0},
};
#define NFILES (sizeof files / sizeof files[0])

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static bool g_loaded;
static char g_dir[PATH_MAX];

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *data = NULL;
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) != 0) goto out;
    long n = ftell(f);
    if (n < 0 || n > DOCS_MAX_FILE || fseek(f, 0, SEEK_SET) != 0) goto out;
    data = xmalloc((size_t)n + 1);
    if (fread(data, 1, (size_t)n, f) != (size_t)n) {
        free(data);
        data = NULL;
        goto out;
    }
    data[n] = '\0';
    *len = (size_t)n;
out:
    fclose(f);
    return data;
}

/* Loads every file from dir; true if all were there. */
static bool load_from(const char *dir)
{
    char path[PATH_MAX + 64];
    for (size_t i = 0; i < NFILES; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i].disk);
        files[i].data = read_file(path, &files[i].len);
        if (!files[i].data) {
            for (size_t k = 0; k <= i; k++) {
                free(files[k].data);
                files[k].data = NULL;
            }
            return false;
        }
    }
    snprintf(g_dir, sizeof g_dir, "%s", dir);
    return true;
}

static void load(void)
{
    const char *env = getenv("FIREMODE_DOCS_DIR");
    if (env && *env) {
        g_loaded = load_from(env);
        return;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash) return;
    *slash = '\0';
    static const char *const rel[] = {"docs", "../docs", "../share/firemode/docs"};
    char dir[PATH_MAX + 64];
    for (size_t i = 0; i < sizeof rel / sizeof rel[0] && !g_loaded; i++) {
        snprintf(dir, sizeof dir, "%s/%s", exe, rel[i]);
        g_loaded = load_from(dir);
    }
}

void docs_serve(struct request *r, const char *name, size_t len)
{
    pthread_once(&g_once, load);
    const struct docs_file *f = NULL;
    for (size_t i = 0; i < NFILES && !f; i++)
        if (name ? len && text_eq(name, len, files[i].name) : files[i].name[0] == '\0') f = &files[i];
    if (!f) {
        resp_error(r, 404, "Not Found");
        return;
    }
    if (!g_loaded) {
        resp_error(r, 503, "Swagger UI is not installed beside this binary: run make (or set FIREMODE_DOCS_DIR)");
        return;
    }
    struct buf b;
    buf_init(&b);
    buf_append(&b, f->data, f->len);
    resp_header(r, "Cache-Control", "no-cache");
    resp_text(r, 200, f->content_type, &b);
}
