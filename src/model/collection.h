/*
 * collection — every collection the API serves, described as data.
 *
 * One generic engine walks these tables for everything: the list grammar
 * (which sorts and filters exist and how they map to columns), request body
 * validation (types, bounds, enums, required/writable/nullable), SQL
 * (column lists, scope, soft delete) and JSON rendering.  Adding a
 * collection or a filter means adding a row here, not a function.
 *
 * Identifiers that reach SQL come only from these tables.
 */
#ifndef FM_COLLECTION_H
#define FM_COLLECTION_H

#include "../util/method.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What each type does (parse, render, describe as a JSON Schema) is one row
 * of the type table in types.h; this enum only names the rows. */
enum ftype {
    FT_UUID,  /* canonical UUID text */
    FT_TEXT,  /* UTF-8 text with min_len..max_len code points */
    FT_EMAIL, /* text, trimmed, one '@' with text on both sides, <= 254 */
    FT_SLUG,  /* [a-z0-9][a-z0-9-]{0,63} */
    FT_INT,   /* int64 >= min_int */
    FT_BOOL,
    FT_TIME,  /* int64 microseconds; RFC 3339 in JSON */
    FT_ENUM,  /* one of enum_values */
    FT_TAGS,  /* JSON array of tags (each min_len..max_len code points, at most max_items
               * after de-duplication), stored as canonical JSON text */
    FT_CLOCK, /* vector clock, stored as canonical JSON text */
};

/* The most fields a collection may declare (request bodies keep one value
 * per field). */
#define COLLECTION_MAX_FIELDS 32

/* Field flags. */
enum {
    F_PK = 1 << 0,       /* the primary key (server-set UUIDv7) */
    F_NULLABLE = 1 << 1, /* may be null; gets a <name>_is_null filter unless F_NO_ISNULL */
    F_CREATE = 1 << 2,   /* a client may give it on create */
    F_REQUIRED = 1 << 3, /* with F_CREATE: must be given on create */
    F_PATCH = 1 << 4,    /* a client may change it with PATCH */
    F_HIDDEN = 1 << 5,   /* stored, never rendered (email_canonical, seq) */
    F_ADMIN = 1 << 6,    /* only an admin may set it (created_at on create) */
    F_NO_ISNULL = 1 << 7,
};

/* How the server fills a field that the client did not (or may not) set. */
enum fauto {
    A_NONE,        /* no server value: the default below, or NULL */
    A_NEW_ID,      /* a new UUIDv7 */
    A_NOW,         /* the request's time, on create */
    A_NOW_ALWAYS,  /* the request's time, on create and on every write */
    A_CALLER,      /* the caller's user id */
    A_WORKSPACE,   /* the workspace id from the path */
    A_CLOCK,       /* the vector clock */
    A_SEQ,         /* the position in the order of writes */
    A_LOWER_OF,    /* ASCII lower-case of the field named in `of` */
    A_TAG_TABLE,   /* FT_TAGS: also kept in the side table `side_table` */
};

struct field {
    const char *name;    /* JSON name */
    const char *column;  /* SQL column; NULL means the same as name (filled at start) */
    enum ftype type;
    unsigned flags;
    enum fauto autofill;
    int min_len, max_len;              /* code points: FT_TEXT of the value, FT_TAGS of each tag */
    int max_items;                     /* FT_TAGS: the most tags, counted after de-duplication */
    long long min_int;                 /* FT_INT */
    const char *const *enum_values;    /* FT_ENUM, NULL-terminated */
    const char *default_value;         /* JSON text used on create when omitted (e.g. "\"uploaded\"", "true", "[]") */
    const char *references;            /* FT_UUID: name of a collection whose row must exist in the same workspace */
    const char *of;                    /* A_LOWER_OF: source field */
    const char *description;           /* for people (OpenAPI); "" if none */
    /* Derived at start: the JSON member name as answers write it, after
     * the comma that separates it from the member before, quoted, with its
     * colon (",\"name\":"), so rendering a row copies it in one go (the
     * first member from json_key + 1). */
    char *json_key;
    size_t json_key_len;
};

struct sort_key {
    const char *name;   /* as the client writes it in `sort` */
    const char *column;
    bool nullable;      /* NULLS LAST both ways */
    const struct field *field; /* the field of column (set at start) */
    const char *description; /* for people (OpenAPI); "" if none */
    int rendered_col;   /* field's position among the rendered columns, or -1
                           when it is not rendered (set at start) */
};

enum fop {
    OP_EQ,          /* field=value */
    OP_IN,          /* field_in=a,b (CSV and/or repeated) */
    OP_FROM,        /* column >= value */
    OP_TO,          /* column < value */
    OP_THROUGH,     /* column <= value; a date-only value means the end of that day (FireMode v1 date_to) */
    OP_IS_NULL,     /* field_is_null=true|false */
    OP_SEARCH,      /* q: trimmed, 2..128, ASCII-case-insensitive substring over columns[] */
    OP_CONTAINS,    /* like OP_SEARCH on one column, 1..128 (configs.title) */
    OP_TAG_IN,      /* any of the tags, through the side table, no duplicate rows */
    OP_INCLUDE_DELETED,
};

struct filter {
    const char *param;
    enum fop op;
    const char *column;          /* the column filtered (first of columns for OP_SEARCH) */
    const char *columns[3];      /* OP_SEARCH: the columns searched, NULL-terminated */
    const struct field *field;   /* value type comes from this field (set at start) */
    const char *description;     /* for people (OpenAPI); "" if none: the field's is used */
};

enum scope {
    SCOPE_GLOBAL,    /* /users */
    SCOPE_MEMBER,    /* /workspaces: rows the caller is a member of (admins: all) */
    SCOPE_WORKSPACE, /* /workspaces/{id}/...: rows of that workspace */
    SCOPE_OWNER,     /* /v1/tests/sessions: rows the caller created */
};

/* A list flavour: which paging grammar a collection's list speaks and the
 * keys of its envelope.  Every collection has one (see profiles below);
 * the grammar, the engine and the renderer read it, none of them special-
 * cases a collection. */
struct list_profile {
    const char *name;          /* "standard", "firemode-v1" */
    const char *items_key;     /* envelope key of the rows: "items" | "data" */
    const char *size_param;    /* "page_size" | "limit" */
    int default_size, max_size;
    bool pages;                /* page and include_total exist, and the envelope
                                  has page, page_size, has_previous, has_next */
    bool is_null_filters;      /* nullable fields get <field>_is_null filters */
};

extern const struct list_profile profile_standard, profile_firemode_v1;

struct collection {
    const char *name;          /* path segment and OpenAPI tag: "documents" */
    const struct list_profile *profile; /* NULL: profile_standard */
    const char *table;
    const char *item_name;     /* "document" */
    enum scope scope;
    const char *owner_column;  /* SCOPE_OWNER: created_by */
    bool soft_delete;          /* has deleted_at; DELETE sets it */
    bool admin_only;           /* list/create need an admin (users) */
    unsigned item_methods;     /* HTTP methods on /{id}: bitmask of enum method */
    const struct field *fields;
    size_t nfields;
    const struct sort_key *sorts;
    size_t nsorts;
    const char *default_sort;  /* e.g. "-created_at" */
    const struct filter *decl_filters; /* the declared filters; see `filters` */
    size_t ndecl_filters;
    const char *tag_table;     /* OP_TAG_IN side table (document_tags) */
    const char *tag_fk;        /* its column referencing the pk */
    /* Derived at start by collections_init(). */
    const struct filter *filters; /* decl_filters plus one <field>_is_null per nullable field */
    size_t nfilters;
    const struct field *pk;
    const struct field *deleted_at;
    const struct field *workspace_field;
    const struct field *clock_field;
    int clock_col;             /* the clock's position among the rendered columns */
    int pk_col;                /* the primary key's position among them */
    int nrendered;             /* rendered columns (select_list) */
    uint64_t int_rendered;     /* bit i: rendered column i renders from its integer (type_ops.renders_from_int) */
    const struct field *seq_field;
    const struct field *tags_field;
    char *select_list;         /* "t.col1, t.col2, ..." of rendered fields */
    int index;                 /* position in collections[] */
    char *allowed_params;      /* "page, page_size, ..." for 422 messages */
    char *allowed_sorts;       /* "created_at, id, ..." */
};

extern struct collection coll_users, coll_workspaces, coll_documents, coll_jobs, coll_configs, coll_test_sessions;

/* Every collection, NULL-terminated. */
extern struct collection *const collections[];

/* Derives the computed members and the automatic *_is_null filters.  Call
 * once at start, before any thread uses the tables.  Idempotent. */
void collections_init(void);

const struct collection *collection_by_name(const char *name, size_t len);
const struct field *collection_field(const struct collection *c, const char *name, size_t len);

#endif
