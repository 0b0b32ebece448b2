/*
 * collections — the tables that describe every collection (see
 * collection.h).  This file is data plus collections_init(), which derives
 * what can be derived (column lists, the <field>_is_null filters, the
 * allowed-name lists used in error messages) once at start.
 */
#include "collection.h"

#include "../util/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char *const document_status[] = {"uploaded", "queued", "processing", "processed", "failed", NULL};
static const char *const document_source[] = {"upload", "email", "api", "import", NULL};
static const char *const job_status[] = {"queued", "running", "succeeded", "failed", "cancelled", NULL};
static const char *const session_status[] = {"scheduled", "in_progress", "completed", "failed", "cancelled", NULL};

#define PK(n) {.name = n, .type = FT_UUID, .flags = F_PK, .autofill = A_NEW_ID}
#define CREATED_AT {.name = "created_at", .type = FT_TIME, .flags = F_CREATE | F_ADMIN, .autofill = A_NOW}
#define UPDATED_AT {.name = "updated_at", .type = FT_TIME, .autofill = A_NOW_ALWAYS}
#define CLOCK {.name = "vector_clock", .column = "vclock", .type = FT_CLOCK, .autofill = A_CLOCK}
#define SEQ {.name = "seq", .type = FT_INT, .flags = F_HIDDEN, .autofill = A_SEQ}
#define WORKSPACE {.name = "workspace_id", .type = FT_UUID, .autofill = A_WORKSPACE}
#define CALLER(n) {.name = n, .type = FT_UUID, .autofill = A_CALLER}
#define DELETED_AT {.name = "deleted_at", .type = FT_TIME, .flags = F_NULLABLE | F_NO_ISNULL}
#define TEXT(n, fl, lo, hi) {.name = n, .type = FT_TEXT, .flags = fl, .min_len = lo, .max_len = hi}
#define TIME(n, fl) {.name = n, .type = FT_TIME, .flags = fl}
#define BOOL(n, fl, def) {.name = n, .type = FT_BOOL, .flags = fl, .default_value = def}
#define ENUM(n, vals, def) \
    {.name = n, .type = FT_ENUM, .flags = F_CREATE | F_PATCH, .enum_values = vals, .default_value = def}
#define CW (F_CREATE | F_PATCH)
#define CRW (F_CREATE | F_REQUIRED | F_PATCH)

#define SORT(n, col) {n, col, false, NULL}
#define SORT_NULLABLE(n, col) {n, col, true, NULL}
#define F(p, o, col) {.param = p, .op = o, .column = col}
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
    {.name = "email", .type = FT_EMAIL, .flags = CRW},
    {.name = "email_canonical", .type = FT_TEXT, .flags = F_HIDDEN, .autofill = A_LOWER_OF, .of = "email"},
    TEXT("display_name", CW | F_NULLABLE, 1, 200),
    BOOL("is_active", CW | F_ADMIN, "true"),
    BOOL("is_service_account", CW | F_ADMIN, "false"),
    BOOL("is_admin", CW | F_ADMIN, "false"),
    CREATED_AT,
    UPDATED_AT,
    TIME("last_login_at", CW | F_NULLABLE),
    CLOCK,
    SEQ,
};

static struct sort_key user_sorts[] = {
    SORT("id", "user_id"),
    SORT("created_at", "created_at"),
    SORT("updated_at", "updated_at"),
    SORT("email", "email_canonical"),
    SORT_NULLABLE("display_name", "display_name"),
    SORT_NULLABLE("last_login_at", "last_login_at"),
};

static const struct filter user_filters[] = {
    SEARCH("email", "display_name"),
    F("is_active", OP_EQ, "is_active"),
    F("is_service_account", OP_EQ, "is_service_account"),
    F("created_at_from", OP_FROM, "created_at"),
    F("created_at_to", OP_TO, "created_at"),
    F("last_login_from", OP_FROM, "last_login_at"),
    F("last_login_to", OP_TO, "last_login_at"),
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
    TEXT("name", CRW, 1, 200),
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
    TEXT("original_filename", CRW, 1, 255),
    {.name = "byte_size", .type = FT_INT, .flags = CRW, .min_int = 0},
    ENUM("status", document_status, "\"uploaded\""),
    ENUM("source", document_source, "\"upload\""),
    CALLER("uploaded_by_user_id"),
    {.name = "tags", .type = FT_TAGS, .flags = CW, .autofill = A_TAG_TABLE, .min_len = 1, .max_len = 64,
     .default_value = "[]"},
    CREATED_AT,
    TIME("last_run_at", CW | F_NULLABLE),
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
    F("last_run_from", OP_FROM, "last_run_at"),
    F("last_run_to", OP_TO, "last_run_at"),
    SEARCH("original_filename"),
    F("include_deleted", OP_INCLUDE_DELETED, "deleted_at"),
    F("tag_in", OP_TAG_IN, "tags"),
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
    {.name = "config_id", .type = FT_UUID, .flags = CRW, .references = "configs"},
    TEXT("config_version_id", CW | F_NULLABLE, 1, 128),
    ENUM("status", job_status, "\"queued\""),
    CALLER("submitted_by_user_id"),
    TEXT("trace_id", CW | F_NULLABLE, 1, 128),
    {.name = "retry_of_job_id", .type = FT_UUID, .flags = CW | F_NULLABLE, .references = "jobs"},
    CREATED_AT,
    {.name = "queued_at", .type = FT_TIME, .flags = CW, .autofill = A_NOW},
    TIME("started_at", CW | F_NULLABLE),
    TIME("completed_at", CW | F_NULLABLE),
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
    {.name = "slug", .type = FT_SLUG, .flags = CRW},
    TEXT("title", CRW, 1, 200),
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
    F("slug", OP_EQ, "slug"),
    F("title", OP_CONTAINS, "title"),
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
    {.name = "building_id", .type = FT_UUID, .flags = CRW},
    ENUM("status", session_status, "\"scheduled\""),
    TEXT("technician_id", CW | F_NULLABLE, 1, 128),
    TEXT("notes", CW | F_NULLABLE, 0, 10000),
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
    for (size_t i = 0; i < c->nfields; i++) {
        if (c->fields[i].flags & F_HIDDEN) continue;
        if (&c->fields[i] == c->clock_field) c->clock_col = c->nrendered;
        if (&c->fields[i] == c->pk) c->pk_col = c->nrendered;
        c->nrendered++;
    }
    buf_init(&b);
    for (size_t i = 0, first = 1; i < c->nfields; i++) {
        if (c->fields[i].flags & F_HIDDEN) continue;
        buf_printf(&b, "%st.%s", first ? "" : ", ", c->fields[i].column);
        first = 0;
    }
    c->select_list = buf_steal(&b, NULL);

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
