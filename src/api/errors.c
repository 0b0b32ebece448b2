/*
 * errors — 422 answers listing every problem (see errors.h).
 */
#include "errors.h"

#include "../util/buf.h"

#include <string.h>

void api_invalid(struct request *r, const char *where, const struct lq_error *e)
{
    if (e->n == 1 && e->list[0].as_string) {
        resp_error(r, 422, "%s", e->list[0].msg);
        return;
    }
    struct buf b;
    buf_init(&b);
    buf_puts(&b, "{\"detail\":[");
    for (int k = 0; k < e->n; k++) {
        const struct lq_issue *is = &e->list[k];
        if (k) buf_putc(&b, ',');
        buf_puts(&b, "{\"loc\":[");
        buf_json_str(&b, where, strlen(where));
        buf_putc(&b, ',');
        buf_json_str(&b, is->loc, strlen(is->loc)); /* may be "": a parameter or key named so */
        buf_puts(&b, "],\"msg\":");
        buf_json_str(&b, is->msg, strlen(is->msg));
        buf_puts(&b, ",\"type\":");
        buf_json_str(&b, is->type, strlen(is->type));
        buf_putc(&b, '}');
    }
    buf_puts(&b, "]}");
    resp_json(r, 422, &b);
}
