/*
 * render — rows to JSON, in one pass, by the field table.  Timestamps are
 * stored as integer microseconds and written here as RFC 3339; tags and
 * clocks are stored as canonical JSON and copied as they are.
 */
#include "api_int.h"

#include "../util/text.h"

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
        const char *v = col < row->ncols ? row->vals[col] : NULL;
        size_t n = col < row->ncols ? row->lens[col] : 0;
        col++;
        if (!first) buf_putc(b, ',');
        first = false;
        buf_json_str(b, f->name, strlen(f->name));
        buf_putc(b, ':');
        if (!v) {
            buf_puts(b, "null");
            continue;
        }
        switch (f->type) {
        case FT_INT: buf_append(b, v, n); break;
        case FT_BOOL: buf_puts(b, (v[0] == '1' || v[0] == 't') ? "true" : "false"); break;
        case FT_TIME: {
            buf_putc(b, '"');
            time_format(b, strtoll(v, NULL, 10));
            buf_putc(b, '"');
            break;
        }
        case FT_TAGS:
        case FT_CLOCK: buf_append(b, v, n); break;
        default: buf_json_str(b, v, n);
        }
    }
    buf_putc(b, '}');
}
