/*
 * render — rows to JSON, in one pass, by the field table; each value by its
 * type's row of the type table (model/types.h: timestamps are stored as
 * integer microseconds and written as RFC 3339; tags and clocks are stored
 * as canonical JSON and copied as they are).
 */
#include "api_int.h"

#include "../model/types.h"

#include <stdlib.h>
#include <string.h>

void render_item(struct buf *b, const struct collection *c, const struct store_row *row)
{
    int col = 0;
    bool first = true;
    buf_putc(b, '{');
    for (size_t i = 0; i < c->nfields; i++) {
        const struct field *f = &c->fields[i];
        if (f->flags & F_HIDDEN) continue;
        int at = col++;
        const char *v = at < row->ncols ? row->vals[at] : NULL;
        /* the key with its comma, which the first one goes without */
        buf_append(b, f->json_key + first, f->json_key_len - first);
        first = false;
        if (!v) {
            buf_append(b, "null", 4);
            continue;
        }
        type_of(f)->render(b, f, v, row->lens[at], store_row_intp(row, at));
    }
    buf_putc(b, '}');
}
