/*
 * collections — the tables that describe every collection (see
 * collection.h).  This file is data plus collections_init(), which derives
 * what can be derived (column lists, the <field>_is_null filters, the
 * allowed-name lists used in error messages) once at start.
 */
#include "collection.h"
#include "types.h"

#include "../util/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char *const document_status[] = {"uploaded", "queued", "processing", "processed", "failed", NULL};
static const char *const document_source[] = {"upload", "email", "api", "import", NULL};
static const char *const job_status[] = {"queued", "running", "succeeded", "failed", "cancelled", NULL};
static const char *const session_status[] = {"scheduled", "in_progress", "completed", "failed", "cancelled", NULL};

#define PK(n) {.name = n, .type = FT_UUID, .flags = F_PK, .autofill = A_NEW_ID, .description = "The id (a UUIDv7 the server makes)."}
#define CREATED_AT {.name = "created_at", .type = FT_TIME, .flags = F_CREATE | F_ADMIN, .autofill = A_NOW, .description = "When it was created; set by the server, or given on create by an admin (importing history)."}
#define UPDATED_AT {.name = "updated_at", .type = FT_TIME, .autofill = A_NOW_ALWAYS, .description = "When it was last written."}
#define CLOCK {.name = "vector_clock", .column = "vclock", .type = FT_CLOCK, .autofill = A_CLOCK, .description = "Node id -> count of writes through that server (CONTRACT.md section 6)."}
#define SEQ {.name = "seq", .type = FT_INT, .flags = F_HIDDEN, .autofill = A_SEQ}
#define WORKSPACE {.name = "workspace_id", .type = FT_UUID, .autofill = A_WORKSPACE, .description = "The workspace it belongs to (from the path)."}
#define CALLER(n, ...) {.name = n, .type = FT_UUID, .autofill = A_CALLER, .description = "The user who created it." __VA_ARGS__}
#define DELETED_AT {.name = "deleted_at", .type = FT_TIME, .flags = F_NULLABLE | F_NO_ISNULL, .description = "When it was (soft) deleted; null while live."}
#define TEXT(n, fl, lo, hi, ...) {.name = n, .type = FT_TEXT, .flags = fl, .min_len = lo, .max_len = hi, .description = "" __VA_ARGS__}
#define TIME(n, fl, ...) {.name = n, .type = FT_TIME, .flags = fl, .description = "" __VA_ARGS__}
#define BOOL(n, fl, def, ...) {.name = n, .type = FT_BOOL, .flags = fl, .default_value = def, .description = "" __VA_ARGS__}
#define ENUM(n, vals, def, ...) \
    {.name = n, .type = FT_ENUM, .flags = F_CREATE | F_PATCH, .enum_values = vals, .default_value = def, .description = "" __VA_ARGS__}
#define CW (F_CREATE | F_PATCH)
#define CRW (F_CREATE | F_REQUIRED | F_PATCH)

#define SORT(n, col, ...) {.name = n, .column = col, .nullable = false, .description = "" __VA_ARGS__}
#define SORT_NULLABLE(n, col, ...) {.name = n, .column = col, .nullable = true, .description = "" __VA_ARGS__}
#define F(p, o, col, ...) {.param = p, .op = o, .column = col, .description = "" __VA_ARGS__}
#define SEARCH(...) {.param = "q", .op = OP_SEARCH, .columns = {__VA_ARGS__, NULL}}

/* ---- list profiles -------------------------------------------------- */

const struct list_profile profile_standard = {
    .name = "standard", .items_key = "items", .size_param = "page_size", .default_size = 25, .max_size = 100,
    .pages = true, .is_null_filters = true,
};

/* FireMode v1 (GET /v1/tests/sessions): limit and cursor, {"data", ...}. */
const struct list_profile profile_firemode_v1 = {
    .name = "firemode-v1", .items_key = "data", .size_param = "limit", .default_size = 20, .max_size = 100,
    .pages = false, .is_null_filters = false,
};

/* ---- users ---------------------------------------------------------- */

static struct field user_fields[] = {
    PK("user_id"),
    {.name = "email", .type = FT_EMAIL, .flags = CRW, .description = "Email address, returned as given (trimmed); unique case-insensitively (409)."},
    {.name = "email_canonical", .type = FT_TEXT, .flags = F_HIDDEN, .autofill = A_LOWER_OF, .of = "email"},
    TEXT("display_name", CW | F_NULLABLE, 1, 200, "The name shown for the user."),
    BOOL("is_active", CW | F_ADMIN, "true", "An inactive user's token is refused (403); admin-only."),
    BOOL("is_service_account", CW | F_ADMIN, "false", "A machine account; admin-only."),
    BOOL("is_admin", CW | F_ADMIN, "false", "May see and change everything; admin-only."),
    CREATED_AT,
    UPDATED_AT,
    TIME("last_login_at", CW | F_NULLABLE, "When the user last logged in."),
    CLOCK,
    SEQ,
};

static struct sort_key user_sorts[] = {
    SORT("id", "user_id"),
    SORT("created_at", "created_at"),
    SORT("updated_at", "updated_at"),
    SORT("email", "email_canonical", "the email, lower-cased"),
    SORT_NULLABLE("display_name", "display_name"),
    SORT_NULLABLE("last_login_at", "last_login_at"),
};

static const struct filter user_filters[] = {
    SEARCH("email", "display_name"),
    F("is_active", OP_EQ, "is_active", "Only active (true) or inactive (false) users."),
    F("is_service_account", OP_EQ, "is_service_account", "Only service accounts (true) or people (false)."),
    F("created_at_from", OP_FROM, "created_at"),
    F("created_at_to", OP_TO, "created_at"),
    F("last_login_from", OP_FROM, "last_login_at", "Users who last logged in at or after this time."),
    F("last_login_to", OP_TO, "last_login_at", "Users who last logged in before this time."),
};

struct collection coll_users = {
    .name = "users",
    .table = "users",
    .item_name = "user",
    .scope = SCOPE_GLOBAL,
    .admin_only = true,
    .item_methods = M_GET | M_HEAD | M_PATCH | M_OPTIONS,
    .fields = user_fields,
    .nfields = N(user_fields),
    .sorts = user_sorts,
    .nsorts = N(user_sorts),
    .default_sort = "-created_at",
    .decl_filters = user_filters,
    .ndecl_filters = N(user_filters),
};

/* ---- workspaces ----------------------------------------------------- */

static struct field workspace_fields[] = {
    PK("workspace_id"),
    TEXT("name", CRW, 1, 200, "The workspace's name."),
    CALLER("created_by_user_id"),
    CREATED_AT,
    CLOCK,
    SEQ,
};

static struct sort_key workspace_sorts[] = {
    SORT("id", "workspace_id"),
    SORT("created_at", "created_at"),
    SORT("name", "name"),
};

static const struct filter workspace_filters[] = {
    SEARCH("name"),
};

struct collection coll_workspaces = {
    .name = "workspaces",
    .table = "workspaces",
    .item_name = "workspace",
    .scope = SCOPE_MEMBER,
    .item_methods = M_GET | M_HEAD | M_PATCH | M_OPTIONS,
    .fields = workspace_fields,
    .nfields = N(workspace_fields),
    .sorts = workspace_sorts,
    .nsorts = N(workspace_sorts),
    .default_sort = "-created_at",
    .decl_filters = workspace_filters,
    .ndecl_filters = N(workspace_filters),
};

/* ---- documents ------------------------------------------------------ */

static struct field document_fields[] = {
    PK("document_id"),
    WORKSPACE,
    TEXT("original_filename", CRW, 1, 255, "The name of the uploaded file."),
    {.name = "byte_size", .type = FT_INT, .flags = CRW, .min_int = 0, .description = "The file's size in bytes."},
    ENUM("status", document_status, "\"uploaded\"", "Where the document is in processing."),
    ENUM("source", document_source, "\"upload\"", "How the document arrived."),
    CALLER("uploaded_by_user_id", " (the uploader)"),
    {.name = "tags", .type = FT_TAGS, .flags = CW, .autofill = A_TAG_TABLE, .min_len = 1, .max_len = 64, .max_items = 32,
     .default_value = "[]", .description = "Tags: case-sensitive, de-duplicated, returned in byte order."},
    CREATED_AT,
    TIME("last_run_at", CW | F_NULLABLE, "When the document was last processed."),
    DELETED_AT,
    CLOCK,
    SEQ,
};

static struct sort_key document_sorts[] = {
    SORT("id", "document_id"),
    SORT("created_at", "created_at"),
    SORT_NULLABLE("last_run_at", "last_run_at"),
    SORT("byte_size", "byte_size"),
    SORT("original_filename", "original_filename"),
    SORT("status", "status"),
};

static const struct filter document_filters[] = {
    F("status_in", OP_IN, "status"),
    F("source_in", OP_IN, "source"),
    F("uploaded_by_user_id", OP_EQ, "uploaded_by_user_id"),
    F("created_at_from", OP_FROM, "created_at"),
    F("created_at_to", OP_TO, "created_at"),
    F("last_run_from", OP_FROM, "last_run_at", "Documents last processed at or after this time."),
    F("last_run_to", OP_TO, "last_run_at", "Documents last processed before this time."),
    SEARCH("original_filename"),
    F("include_deleted", OP_INCLUDE_DELETED, "deleted_at"),
    F("tag_in", OP_TAG_IN, "tags", "Documents with any of these tags (each 1..64 characters; no duplicate rows)."),
};

struct collection coll_documents = {
    .name = "documents",
    .table = "documents",
    .item_name = "document",
    .scope = SCOPE_WORKSPACE,
    .soft_delete = true,
    .item_methods = M_GET | M_HEAD | M_PATCH | M_DELETE | M_OPTIONS,
    .fields = document_fields,
    .nfields = N(document_fields),
    .sorts = document_sorts,
    .nsorts = N(document_sorts),
    .default_sort = "-created_at",
    .decl_filters = document_filters,
    .ndecl_filters = N(document_filters),
    .tag_table = "document_tags",
    .tag_fk = "document_id",
};

/* ---- jobs ----------------------------------------------------------- */

static struct field job_fields[] = {
    PK("job_id"),
    WORKSPACE,
    {.name = "config_id", .type = FT_UUID, .flags = CRW, .references = "configs", .description = "The config it runs: a live config of the same workspace (else 422)."},
    TEXT("config_version_id", CW | F_NULLABLE, 1, 128, "The version of the config it runs."),
    ENUM("status", job_status, "\"queued\"", "Where the job is in its life."),
    CALLER("submitted_by_user_id", " (the submitter)"),
    TEXT("trace_id", CW | F_NULLABLE, 1, 128, "A tracing id from the submitter's system."),
    {.name = "retry_of_job_id", .type = FT_UUID, .flags = CW | F_NULLABLE, .references = "jobs", .description = "The job this one retries: a job of the same workspace (else 422)."},
    CREATED_AT,
    {.name = "queued_at", .type = FT_TIME, .flags = CW, .autofill = A_NOW, .description = "When it was queued (default: now)."},
    TIME("started_at", CW | F_NULLABLE, "When it started running."),
    TIME("completed_at", CW | F_NULLABLE, "When it finished."),
    CLOCK,
    SEQ,
};

static struct sort_key job_sorts[] = {
    SORT("id", "job_id"),
    SORT("created_at", "created_at"),
    SORT("queued_at", "queued_at"),
    SORT_NULLABLE("started_at", "started_at"),
    SORT_NULLABLE("completed_at", "completed_at"),
    SORT("status", "status"),
};

static const struct filter job_filters[] = {
    F("status_in", OP_IN, "status"),
    F("config_id", OP_EQ, "config_id"),
    F("config_version_id", OP_EQ, "config_version_id"),
    F("submitted_by_user_id", OP_EQ, "submitted_by_user_id"),
    F("trace_id", OP_EQ, "trace_id"),
    F("retry_of_job_id", OP_EQ, "retry_of_job_id"),
    F("created_at_from", OP_FROM, "created_at"),
    F("created_at_to", OP_TO, "created_at"),
};

struct collection coll_jobs = {
    .name = "jobs",
    .table = "jobs",
    .item_name = "job",
    .scope = SCOPE_WORKSPACE,
    .item_methods = M_GET | M_HEAD | M_PATCH | M_OPTIONS,
    .fields = job_fields,
    .nfields = N(job_fields),
    .sorts = job_sorts,
    .nsorts = N(job_sorts),
    .default_sort = "-created_at",
    .decl_filters = job_filters,
    .ndecl_filters = N(job_filters),
};

/* ---- configs -------------------------------------------------------- */

static struct field config_fields[] = {
    PK("config_id"),
    WORKSPACE,
    {.name = "slug", .type = FT_SLUG, .flags = CRW, .description = "A short name, unique among the live configs of the workspace (409)."},
    TEXT("title", CRW, 1, 200, "The config's title."),
    CALLER("created_by_user_id"),
    CREATED_AT,
    UPDATED_AT,
    DELETED_AT,
    CLOCK,
    SEQ,
};

static struct sort_key config_sorts[] = {
    SORT("id", "config_id"),
    SORT("created_at", "created_at"),
    SORT("updated_at", "updated_at"),
    SORT("slug", "slug"),
    SORT("title", "title"),
};

static const struct filter config_filters[] = {
    F("slug", OP_EQ, "slug", "The config with exactly this slug."),
    F("title", OP_CONTAINS, "title", "Configs whose title contains this text, ASCII case-insensitively (trimmed, 1..128 characters)."),
    F("created_by_user_id", OP_EQ, "created_by_user_id"),
    F("created_at_from", OP_FROM, "created_at"),
    F("created_at_to", OP_TO, "created_at"),
    F("include_deleted", OP_INCLUDE_DELETED, "deleted_at"),
};

struct collection coll_configs = {
    .name = "configs",
    .table = "configs",
    .item_name = "config",
    .scope = SCOPE_WORKSPACE,
    .soft_delete = true,
    .item_methods = M_GET | M_HEAD | M_PATCH | M_DELETE | M_OPTIONS,
    .fields = config_fields,
    .nfields = N(config_fields),
    .sorts = config_sorts,
    .nsorts = N(config_sorts),
    .default_sort = "-created_at",
    .decl_filters = config_filters,
    .ndecl_filters = N(config_filters),
};

/* ---- test sessions (FireMode v1) ------------------------------------ */

static struct field session_fields[] = {
    PK("id"),
    {.name = "building_id", .type = FT_UUID, .flags = CRW, .description = "The building under test."},
    ENUM("status", session_status, "\"scheduled\"", "Where the test session is in its life."),
    TEXT("technician_id", CW | F_NULLABLE, 1, 128, "Who runs the test."),
    TEXT("notes", CW | F_NULLABLE, 0, 10000, "Free text."),
    CALLER("created_by"),
    CREATED_AT,
    UPDATED_AT,
    {.name = "deleted_at", .type = FT_TIME, .flags = F_NULLABLE | F_NO_ISNULL | F_HIDDEN},
    CLOCK,
    SEQ,
};

static struct sort_key session_sorts[] = {
    SORT("id", "id"),
    SORT("created_at", "created_at"),
    SORT("updated_at", "updated_at"),
    SORT("status", "status"),
};

static const struct filter session_filters[] = {
    F("status", OP_IN, "status"),
    F("date_from", OP_FROM, "created_at"),
    F("date_to", OP_THROUGH, "created_at"),
    F("technician_id", OP_EQ, "technician_id"),
};

struct collection coll_test_sessions = {
    .name = "sessions",
    .profile = &profile_firemode_v1,
    .table = "test_sessions",
    .item_name = "test session",
    .scope = SCOPE_OWNER,
    .owner_column = "created_by",
    .soft_delete = true,
    .item_methods = M_GET | M_HEAD | M_PUT | M_PATCH | M_DELETE | M_OPTIONS,
    .fields = session_fields,
    .nfields = N(session_fields),
    .sorts = session_sorts,
    .nsorts = N(session_sorts),
    .default_sort = "created_at",
    .decl_filters = session_filters,
    .ndecl_filters = N(session_filters),
};

struct collection *const collections[] = {&coll_users,   &coll_workspaces, &coll_documents,
                                          &coll_jobs,    &coll_configs,    &coll_test_sessions, NULL};

/* ---- derived members ------------------------------------------------ */


const struct field *collection_field(const struct collection *c, const char *name, size_t len)
{
    for (size_t i = 0; i < c->nfields; i++)
        if (strlen(c->fields[i].name) == len && memcmp(c->fields[i].name, name, len) == 0) return &c->fields[i];
    return NULL;
}

static const struct field *field_by_column(const struct collection *c, const char *column)
{
    for (size_t i = 0; i < c->nfields; i++)
        if (strcmp(c->fields[i].column ? c->fields[i].column : c->fields[i].name, column) == 0) return &c->fields[i];
    return NULL;
}

const struct collection *collection_by_name(const char *name, size_t len)
{
    for (size_t i = 0; collections[i]; i++)
        if (strlen(collections[i]->name) == len && memcmp(collections[i]->name, name, len) == 0) return collections[i];
    return NULL;
}

static void init_one(struct collection *c, int index)
{
    c->index = index;
    if (!c->profile) c->profile = &profile_standard;
    struct field *fields = (struct field *)c->fields; /* the tables are ours; set once at start */
    struct buf b;
    /* struct body (src/api) holds one value per field */
    if (c->nfields > COLLECTION_MAX_FIELDS) {
        fprintf(stderr, "firemode: collection %s has more than %d fields\n", c->name, COLLECTION_MAX_FIELDS);
        abort();
    }
    for (size_t i = 0; i < c->nfields; i++) {
        struct field *f = &fields[i];
        if (!f->column) f->column = f->name;
        buf_init(&b);
        buf_putc(&b, ',');
        buf_json_str(&b, f->name, strlen(f->name));
        buf_putc(&b, ':');
        f->json_key = buf_steal(&b, &f->json_key_len);
        if (f->flags & F_PK) c->pk = f;
        if (strcmp(f->name, "deleted_at") == 0) c->deleted_at = f;
        if (f->autofill == A_WORKSPACE) c->workspace_field = f;
        if (f->type == FT_CLOCK) c->clock_field = f;
        if (f->autofill == A_SEQ) c->seq_field = f;
        if (f->type == FT_TAGS) c->tags_field = f;
    }

    /* Filters: the declared ones, then <field>_is_null for nullable fields. */
    size_t n = c->ndecl_filters;
    for (size_t i = 0; i < c->nfields && c->profile->is_null_filters; i++)
        if ((c->fields[i].flags & F_NULLABLE) && !(c->fields[i].flags & F_NO_ISNULL)) n++;
    struct filter *fl = xcalloc(n ? n : 1, sizeof *fl);
    if (c->ndecl_filters) memcpy(fl, c->decl_filters, c->ndecl_filters * sizeof *fl);
    size_t k = c->ndecl_filters;
    for (size_t i = 0; i < c->nfields && c->profile->is_null_filters; i++) {
        const struct field *f = &c->fields[i];
        if (!(f->flags & F_NULLABLE) || (f->flags & F_NO_ISNULL)) continue;
        buf_init(&b);
        buf_printf(&b, "%s_is_null", f->name);
        fl[k].param = buf_steal(&b, NULL);
        fl[k].op = OP_IS_NULL;
        fl[k].column = f->column;
        k++;
    }
    for (size_t i = 0; i < n; i++) {
        if (fl[i].op == OP_SEARCH) fl[i].column = fl[i].columns[0];
        fl[i].field = field_by_column(c, fl[i].column);
    }
    c->filters = fl;
    c->nfilters = n;
    for (size_t i = 0; i < c->nsorts; i++) {
        struct sort_key *sk = (struct sort_key *)&c->sorts[i];
        sk->field = field_by_column(c, sk->column);
        if (!sk->field) {
            fprintf(stderr, "firemode: collection %s sorts on %s, which is no field\n", c->name, sk->column);
            abort();
        }
    }

    c->nrendered = 0;
    c->int_rendered = 0;
    for (size_t i = 0; i < c->nfields; i++) {
        if (c->fields[i].flags & F_HIDDEN) continue;
        if (&c->fields[i] == c->clock_field) c->clock_col = c->nrendered;
        if (&c->fields[i] == c->pk) c->pk_col = c->nrendered;
        if (type_of(&c->fields[i])->renders_from_int) c->int_rendered |= 1ull << c->nrendered; /* < 32 fields */
        c->nrendered++;
    }
    buf_init(&b);
    for (size_t i = 0, first = 1; i < c->nfields; i++) {
        if (c->fields[i].flags & F_HIDDEN) continue;
        buf_printf(&b, "%st.%s", first ? "" : ", ", c->fields[i].column);
        first = 0;
    }
    c->select_list = buf_steal(&b, NULL);
    /* a sort key that is a rendered column is read from it: a page
     * selects it once, not again as a key column (plan.c) */
    for (size_t i = 0; i < c->nsorts; i++) {
        struct sort_key *sk = (struct sort_key *)&c->sorts[i];
        sk->rendered_col = -1;
        for (size_t j = 0, col = 0; j < c->nfields; j++) {
            if (c->fields[j].flags & F_HIDDEN) continue;
            if (&c->fields[j] == sk->field) sk->rendered_col = (int)col;
            col++;
        }
    }

    /* the list-grammar parameters of its profile, then its filters */
    buf_init(&b);
    if (c->profile->pages) buf_puts(&b, "page, ");
    buf_printf(&b, "%s, ", c->profile->size_param);
    if (c->profile->pages) buf_puts(&b, "include_total, ");
    buf_puts(&b, "sort, cursor");
    for (size_t i = 0; i < c->nfilters; i++) buf_printf(&b, ", %s", c->filters[i].param);
    c->allowed_params = buf_steal(&b, NULL);

    buf_init(&b);
    for (size_t i = 0; i < c->nsorts; i++) buf_printf(&b, "%s%s", i ? ", " : "", c->sorts[i].name);
    c->allowed_sorts = buf_steal(&b, NULL);
}

void collections_init(void)
{
    static int done;
    if (done) return;
    done = 1;
    for (size_t i = 0; collections[i]; i++) init_one(collections[i], (int)i);
}
