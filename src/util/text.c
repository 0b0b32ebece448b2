/*
 * text — see text.h.  Everything here is pure except uuid7_new and
 * time_now_us, which read the clock (and the random source).
 */
#include "text.h"

#include "buf.h"
#include "crypto.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

long utf8_count(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    long count = 0;
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        size_t len;
        unsigned min;
        if (c == 0) return -1;
        if (c < 0x80) { i++; count++; continue; }
        if (c >= 0xC2 && c <= 0xDF) { len = 2; min = 0x80; }
        else if (c >= 0xE0 && c <= 0xEF) { len = 3; min = 0x800; }
        else if (c >= 0xF0 && c <= 0xF4) { len = 4; min = 0x10000; }
        else return -1;
        if (n - i < len) return -1;
        unsigned cp = c & (0xFFu >> (len + 1));
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xC0) != 0x80) return -1;
            cp = (cp << 6) | (p[i + k] & 0x3Fu);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
        i += len;
        count++;
    }
    return count;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

void text_trim(const char **s, size_t *n)
{
    const char *p = *s;
    size_t len = *n;
    while (len && is_space(p[0])) p++, len--;
    while (len && is_space(p[len - 1])) len--;
    *s = p;
    *n = len;
}

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

bool text_ieq(const char *s, size_t n, const char *lit)
{
    size_t l = strlen(lit);
    if (l != n) return false;
    for (size_t i = 0; i < n; i++)
        if (lower(s[i]) != lower(lit[i])) return false;
    return true;
}

bool text_eq(const char *s, size_t n, const char *lit)
{
    return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

char *text_ascii_lower(const char *s, size_t n)
{
    char *d = xmalloc(n + 1);
    for (size_t i = 0; i < n; i++) d[i] = lower(s[i]);
    d[n] = '\0';
    return d;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool uuid_parse(const char *s, size_t n, char out[37])
{
    if (n != 36) return false;
    for (size_t i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') return false;
            out[i] = '-';
        } else {
            if (hexval(s[i]) < 0) return false;
            out[i] = lower(s[i]);
        }
    }
    out[36] = '\0';
    return true;
}

void uuid7_new(char out[37])
{
    /* 48 bits of Unix milliseconds, version 7, then a 12-bit counter that
     * keeps ids minted in the same millisecond in order, then 62 random bits. */
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    static uint64_t last_ms;
    static unsigned seq;
    unsigned char b[16];
    crypto_random_fast(b, sizeof b); /* an id, not a secret */
    uint64_t ms = (uint64_t)(time_now_us() / 1000);
    pthread_mutex_lock(&mu);
    if (ms <= last_ms) {
        ms = last_ms;
        if (++seq > 0xFFF) {
            ms = ++last_ms;
            seq = 0;
        }
    } else {
        last_ms = ms;
        seq = b[6] & 0x7F; /* random start, leaving room to count up */
    }
    unsigned s = seq;
    pthread_mutex_unlock(&mu);
    for (int i = 0; i < 6; i++) b[i] = (unsigned char)(ms >> (40 - 8 * i));
    b[6] = (unsigned char)(0x70 | ((s >> 8) & 0x0F));
    b[7] = (unsigned char)(s & 0xFF);
    b[8] = (unsigned char)(0x80 | (b[8] & 0x3F));
    uuid_format(b, out);
}

void uuid_format(const unsigned char b[16], char out[37])
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[36] = '\0';
}

int64_t time_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yy + (*m <= 2);
}

static bool digits(const char *s, size_t n, size_t at, size_t count, unsigned *out)
{
    unsigned v = 0;
    if (at + count > n) return false;
    for (size_t i = at; i < at + count; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return true;
}

static unsigned days_in_month(unsigned y, unsigned m)
{
    static const unsigned dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
    return dm[m - 1];
}

bool time_parse(const char *s, size_t n, int64_t *out_us)
{
    unsigned y, mo, d, h = 0, mi = 0, sec = 0;
    int64_t frac_us = 0, offset_s = 0;
    if (!digits(s, n, 0, 4, &y) || n < 10 || s[4] != '-' || !digits(s, n, 5, 2, &mo) || s[7] != '-' ||
        !digits(s, n, 8, 2, &d))
        return false;
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo)) return false;
    size_t i = 10;
    if (i < n) {
        if (s[i] != 'T' && s[i] != 't' && s[i] != ' ') return false;
        i++;
        if (!digits(s, n, i, 2, &h) || i + 2 >= n || s[i + 2] != ':' || !digits(s, n, i + 3, 2, &mi)) return false;
        i += 5;
        if (i < n && s[i] == ':') {
            if (!digits(s, n, i + 1, 2, &sec)) return false;
            i += 3;
            if (i < n && s[i] == '.') {
                i++;
                size_t start = i;
                int64_t scale = 100000;
                while (i < n && s[i] >= '0' && s[i] <= '9') {
                    frac_us += (s[i] - '0') * scale; /* digits past the sixth add 0 */
                    scale /= 10;
                    i++;
                }
                if (i == start || i - start > 32) return false;
            }
        }
        if (h > 23 || mi > 59 || sec > 59) return false;
        if (i < n) {
            if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == n) {
                i++;
            } else if (s[i] == '+' || s[i] == '-' || s[i] == ' ') {
                /* ' ': a '+' sent unescaped in a query string arrives as a
                 * space; " HH:MM" after a time can only have been "+HH:MM". */
                unsigned oh, om;
                int sign = s[i] == '-' ? -1 : 1;
                if (!digits(s, n, i + 1, 2, &oh) || i + 3 >= n || s[i + 3] != ':' || !digits(s, n, i + 4, 2, &om) ||
                    i + 6 != n || oh > 23 || om > 59)
                    return false;
                offset_s = sign * (int64_t)(oh * 3600 + om * 60);
                i = n;
            } else {
                return false;
            }
        }
    }
    if (i != n) return false;
    int64_t days = days_from_civil(y, mo, d);
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - offset_s;
    /* an offset may push a date out of years 1..9999: refuse it, so every
     * stored time can be written back as RFC 3339 */
    static const int64_t min_s = -62135596800LL, max_s = 253402300799LL;
    if (secs < min_s || secs > max_s) return false;
    *out_us = secs * 1000000 + frac_us;
    return true;
}

static inline void put2(char *d, unsigned v)
{
    d[0] = (char)('0' + v / 10);
    d[1] = (char)('0' + v % 10);
}

/* Writes YYYY-MM-DDTHH:MM:SS.ffffffZ digit by digit (27 bytes; every
 * stored time is in years 1..9999): an answer holds several per row, and
 * printf was a fifth of the list path's time. */
void time_format(struct buf *b, int64_t us)
{
    if (us < -(INT64_MAX - 1000000)) us = -(INT64_MAX - 1000000); /* no overflow below (no stored time is near) */
    int64_t secs = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    /* what is left fits 32 bits: the rest is cheap arithmetic */
    uint32_t frac = (uint32_t)(us - secs * 1000000), rem = (uint32_t)(secs - days * 86400);
    /* The dates of recent days are kept per thread, by the day's low bits:
     * a page's times are of a few days (a row's created_at, updated_at and
     * last_login_at are often of different ones), and the calendar is most
     * of the cost. */
    static _Thread_local struct {
        int64_t days;
        char date[10];
    } day_cache[16] = {[0 ... 15] = {INT64_MIN, {0}}};
    int64_t *last_days = &day_cache[days & 15].days;
    char *last_date = day_cache[days & 15].date;
    if (days != *last_days) {
        int64_t y;
        unsigned m, d;
        civil_from_days(days, &y, &m, &d);
        if (y < 0 || y > 9999) { /* not a time this server stores; keep the old form */
            buf_printf(b, "%04lld-%02u-%02uT%02u:%02u:%02u.%06uZ", (long long)y, m, d, (unsigned)(rem / 3600),
                       (unsigned)(rem / 60 % 60), (unsigned)(rem % 60), (unsigned)frac);
            return;
        }
        unsigned yy = (unsigned)y;
        put2(last_date, yy / 100);
        put2(last_date + 2, yy % 100);
        last_date[4] = '-';
        put2(last_date + 5, m);
        last_date[7] = '-';
        put2(last_date + 8, d);
        *last_days = days;
    }
    if (b->cap - b->len <= 27) buf_reserve(b, 27);
    char *t = b->data + b->len;
    memcpy(t, last_date, 10);
    uint32_t mins = rem / 60;
    t[10] = 'T';
    put2(t + 11, mins / 60);
    t[13] = ':';
    put2(t + 14, mins % 60);
    t[16] = ':';
    put2(t + 17, rem - mins * 60);
    t[19] = '.';
    uint32_t hi = frac / 10000, lo = frac % 10000;
    put2(t + 20, hi);
    put2(t + 22, lo / 100);
    put2(t + 24, lo % 100);
    t[26] = 'Z';
    b->len += 27;
    b->data[b->len] = '\0';
}

/* The value of the eight decimal digits at s, or -1 if one of them is not a
 * digit: all eight at once (PostgreSQL sends every timestamp as 16 digits).
 * A byte is a digit exactly when its high nibble is 3 and adding 6 keeps it
 * so; with every high nibble 3, no byte carries into the next. */
static int64_t digits8(const char *s)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t w;
    memcpy(&w, s, 8);
    const uint64_t nib = 0xF0F0F0F0F0F0F0F0u, zeros = 0x3030303030303030u;
    if ((w & nib) != zeros || ((w + 0x0606060606060606u) & nib) != zeros) return -1;
    uint64_t d = w - zeros; /* the first digit in the lowest byte */
    d = (d * 10 + (d >> 8)) & 0x00FF00FF00FF00FFu;
    d = (d * 100 + (d >> 16)) & 0x0000FFFF0000FFFFu;
    d = (d * 10000 + (d >> 32)) & 0xFFFFFFFFu;
    return (int64_t)d;
#else
    int64_t v = 0;
    for (int k = 0; k < 8; k++) {
        if (s[k] < '0' || s[k] > '9') return -1;
        v = v * 10 + (s[k] - '0');
    }
    return v;
#endif
}

bool int_parse(const char *s, size_t n, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (n && (s[0] == '-' || s[0] == '+')) neg = s[0] == '-', i = 1;
    if (i == n || n - i > 19) return false;
    uint64_t v = 0;
    for (; n - i >= 8; i += 8) { /* at most 19 digits: v stays below 10^19 < 2^64 */
        int64_t d = digits8(s + i);
        if (d < 0) return false;
        v = v * 100000000u + (uint64_t)d;
    }
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1) return false;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX) return false;
        *out = (int64_t)v;
    }
    return true;
}

bool bool_parse(const char *s, size_t n, bool *out)
{
    static const char *const t[] = {"true", "1", "yes", "on"};
    static const char *const f[] = {"false", "0", "no", "off"};
    for (int i = 0; i < 4; i++) {
        if (text_ieq(s, n, t[i])) return *out = true, true;
        if (text_ieq(s, n, f[i])) return *out = false, true;
    }
    return false;
}
