/* record_reader.c — cuts JSON Lines / JSON array files into records (see record_reader.h). */
#include "source/record_reader.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/buf.h"

#define CHUNK (256 * 1024)

enum astate {
    AS_FIRST,      /* before the first element or ']' */
    AS_AFTER_COMMA,/* after ',' : an element must follow */
    AS_IN_ELEM,
    AS_AFTER,      /* after the closing ']' */
    AS_DONE        /* rest of the file ignored */
};

struct rec_reader {
    int fd;
    int64_t limit, nread;
    size_t max_len;
    uint8_t *buf;
    size_t cap, start, end, scan;
    int file_eof;
    int detected, is_array;
    int finished;

    /* JSON Lines */
    int64_t lineno;      /* number of the line that starts at `start` */
    int skipping;        /* inside a line longer than max_len */
    int64_t skip_len, skip_number;
    st_buf sample;

    /* JSON array */
    enum astate as;
    int depth, in_str, esc;
    int64_t index;       /* elements started so far */
    st_buf elem;
    int64_t elem_len;
    const char *pending; /* a REC_SYNTAX to return on the next call */
    int64_t pending_number;
};

rec_reader *rec_reader_new(int fd, int64_t limit, size_t max_len)
{
    rec_reader *r = st_xcalloc(1, sizeof *r);
    r->fd = fd;
    r->limit = limit < 0 ? 0 : limit;
    r->max_len = max_len ? max_len : 1;
    r->cap = r->max_len + CHUNK + 1;
    r->buf = st_xmalloc(r->cap);
    r->lineno = 1;
    return r;
}

void rec_reader_destroy(rec_reader *r)
{
    if (!r) return;
    free(r->buf);
    st_buf_free(&r->sample);
    st_buf_free(&r->elem);
    free(r);
}

int rec_reader_is_array(const rec_reader *r) { return r->is_array; }
int64_t rec_reader_bytes_read(const rec_reader *r) { return r->nread; }

/* Reads more of the file after the unconsumed bytes [start, end), moving them to the
 * front when the free tail is short. Sets file_eof once `limit` bytes were read. */
static st_code fill(rec_reader *r, st_err *e)
{
    if (r->start == r->end) r->start = r->end = r->scan = 0;
    if (r->cap - r->end < CHUNK && r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->scan -= r->start;
        r->start = 0;
    }
    size_t want = r->cap - r->end;
    if ((int64_t)want > r->limit - r->nread) want = (size_t)(r->limit - r->nread);
    if (want == 0) {
        r->file_eof = 1;
        return ST_OK;
    }
    ssize_t n;
    do n = read(r->fd, r->buf + r->end, want);
    while (n < 0 && errno == EINTR);
    if (n < 0) return st_err_set(e, ST_ERR_IO, "read failed: %s", strerror(errno));
    if (n == 0)
        return st_err_set(e, ST_ERR_STATE, "file ended after %lld of %lld bytes (truncated while being read)",
                          (long long)r->nread, (long long)r->limit);
    r->end += (size_t)n;
    r->nread += n;
    if (r->nread == r->limit) r->file_eof = 1;
    return ST_OK;
}

static int is_ws(uint8_t c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* Skips an optional BOM and leading white space (counting newlines) until the first
 * other byte, which decides the format. */
static st_code detect(rec_reader *r, st_err *e)
{
    st_code rc;
    while (r->end - r->start < 3 && !r->file_eof)
        if ((rc = fill(r, e))) return rc;
    if (r->end - r->start >= 3 && !memcmp(r->buf + r->start, "\xEF\xBB\xBF", 3)) r->start += 3;
    for (;;) {
        while (r->start < r->end && is_ws(r->buf[r->start])) {
            if (r->buf[r->start] == '\n') r->lineno++;
            r->start++;
        }
        r->scan = r->start;
        if (r->start < r->end || r->file_eof) break;
        if ((rc = fill(r, e))) return rc;
    }
    r->detected = 1;
    if (r->start < r->end && r->buf[r->start] == '[') {
        r->is_array = 1;
        r->start++;
        r->scan = r->start;
        r->as = AS_FIRST;
    }
    return ST_OK;
}

static int blank(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_ws(p[i])) return 0;
    return 1;
}

static void set_sample(st_buf *s, const uint8_t *p, size_t n)
{
    st_buf_reset(s);
    st_buf_append(s, p, n < REC_SAMPLE_BYTES ? n : REC_SAMPLE_BYTES);
}

/* Fills out for the line [p, p+n) numbered `number`: REC_OK, or REC_TOO_LONG. */
static void emit_line(rec_reader *r, const uint8_t *p, size_t n, int64_t number, rec_record *out)
{
    memset(out, 0, sizeof *out);
    out->number = number;
    out->full_len = (int64_t)n;
    if (n > r->max_len) {
        set_sample(&r->sample, p, n);
        out->kind = REC_TOO_LONG;
        out->data = (const char *)r->sample.data;
        out->len = r->sample.len;
    } else {
        out->kind = REC_OK;
        out->data = (const char *)p;
        out->len = n;
    }
}

static void emit_skipped(rec_reader *r, rec_record *out)
{
    memset(out, 0, sizeof *out);
    out->kind = REC_TOO_LONG;
    out->data = (const char *)r->sample.data;
    out->len = r->sample.len;
    out->full_len = r->skip_len;
    out->number = r->skip_number;
    r->skipping = 0;
}

/* JSON Lines: the next non-blank line. */
static st_code next_line(rec_reader *r, rec_record *out, int *eof, st_err *e)
{
    for (;;) {
        uint8_t *nl = r->scan < r->end ? memchr(r->buf + r->scan, '\n', r->end - r->scan) : NULL;
        if (nl) {
            size_t p = (size_t)(nl - r->buf);
            if (r->skipping) {
                r->skip_len += (int64_t)(p - r->start);
                r->start = r->scan = p + 1;
                r->lineno++;
                emit_skipped(r, out);
                return ST_OK;
            }
            const uint8_t *line = r->buf + r->start;
            size_t n = p - r->start;
            int64_t number = r->lineno++;
            r->start = r->scan = p + 1;
            if (blank(line, n)) continue;
            emit_line(r, line, n, number, out);
            return ST_OK;
        }
        r->scan = r->end;
        if (r->skipping) {
            r->skip_len += (int64_t)(r->end - r->start);
            r->start = r->scan = r->end;
        } else if (r->end - r->start > r->max_len) {
            r->skipping = 1;
            r->skip_number = r->lineno;
            r->skip_len = (int64_t)(r->end - r->start);
            set_sample(&r->sample, r->buf + r->start, r->end - r->start);
            r->start = r->scan = r->end;
        }
        if (r->file_eof) {
            if (r->skipping) {
                r->lineno++;
                emit_skipped(r, out);
                return ST_OK;
            }
            if (r->start < r->end) {
                const uint8_t *line = r->buf + r->start;
                size_t n = r->end - r->start;
                int64_t number = r->lineno++;
                r->start = r->scan = r->end;
                if (!blank(line, n)) {
                    emit_line(r, line, n, number, out);
                    return ST_OK;
                }
            }
            *eof = 1;
            return ST_OK;
        }
        st_code rc = fill(r, e);
        if (rc) return rc;
    }
}

static void emit_syntax(rec_reader *r, const char *detail, int64_t number, const uint8_t *p, size_t n,
                        rec_record *out)
{
    memset(out, 0, sizeof *out);
    set_sample(&r->sample, p, n);
    out->kind = REC_SYNTAX;
    out->detail = detail;
    out->number = number;
    out->data = (const char *)r->sample.data;
    out->len = r->sample.len;
    out->full_len = (int64_t)n;
}

/* Appends the element bytes [from, to) of the buffer, keeping at most max_len + 1. */
static void elem_take(rec_reader *r, size_t from, size_t to)
{
    size_t n = to - from;
    r->elem_len += (int64_t)n;
    if (r->elem.len <= r->max_len) {
        size_t room = r->max_len + 1 - r->elem.len;
        st_buf_append(&r->elem, r->buf + from, n < room ? n : room);
    }
}

static void emit_elem(rec_reader *r, rec_record *out)
{
    memset(out, 0, sizeof *out);
    out->number = r->index;
    out->full_len = r->elem_len;
    if (r->elem_len > (int64_t)r->max_len) {
        set_sample(&r->sample, r->elem.data, r->elem.len);
        out->kind = REC_TOO_LONG;
        out->data = (const char *)r->sample.data;
        out->len = r->sample.len;
    } else {
        /* white space before the ',' or ']' is not part of the element */
        while (r->elem.len && is_ws(r->elem.data[r->elem.len - 1])) r->elem.len--;
        out->kind = REC_OK;
        out->data = (const char *)r->elem.data;
        out->len = r->elem.len;
        out->full_len = (int64_t)r->elem.len;
    }
}

/* JSON array: the next element (or a structural problem). */
static st_code next_elem(rec_reader *r, rec_record *out, int *eof, st_err *e)
{
    if (r->pending) {
        static const uint8_t none[1];
        emit_syntax(r, r->pending, r->pending_number, none, 0, out);
        r->pending = NULL;
        return ST_OK;
    }
    for (;;) {
        size_t i = r->start;
        while (i < r->end) {
            uint8_t c = r->buf[i];
            switch (r->as) {
            case AS_FIRST:
            case AS_AFTER_COMMA:
                if (is_ws(c)) { i++; break; }
                if (c == ']') {
                    enum astate was = r->as;
                    r->as = AS_AFTER;
                    i++;
                    if (was == AS_AFTER_COMMA) {
                        r->start = i;
                        emit_syntax(r, "trailing comma before ']'", r->index + 1, r->buf + i - 1, 1, out);
                        return ST_OK;
                    }
                    break;
                }
                r->as = AS_IN_ELEM;
                r->index++;
                r->depth = r->in_str = r->esc = 0;
                r->elem_len = 0;
                st_buf_reset(&r->elem);
                r->start = i; /* the element starts here */
                /* fall through */
            case AS_IN_ELEM: {
                size_t from = i;
                for (; i < r->end; i++) {
                    c = r->buf[i];
                    if (r->in_str) {
                        if (r->esc) r->esc = 0;
                        else if (c == '\\') r->esc = 1;
                        else if (c == '"') r->in_str = 0;
                        continue;
                    }
                    if (c == '"') r->in_str = 1;
                    else if (c == '{' || c == '[') r->depth++;
                    else if (c == '}' && r->depth > 0) r->depth--;
                    else if (c == ']' && r->depth > 0) r->depth--;
                    else if ((c == ']' || c == ',') && r->depth == 0) break;
                }
                elem_take(r, from, i);
                if (i == r->end) break;
                r->as = r->buf[i] == ',' ? AS_AFTER_COMMA : AS_AFTER;
                r->start = r->scan = i + 1;
                emit_elem(r, out);
                return ST_OK;
            }
            case AS_AFTER:
                if (is_ws(c)) { i++; break; }
                r->as = AS_DONE;
                emit_syntax(r, "data after the closing ']'", r->index + 1, r->buf + i, r->end - i, out);
                r->start = r->scan = r->end;
                return ST_OK;
            case AS_DONE:
                i = r->end;
                break;
            }
        }
        r->start = r->scan = r->end;
        if (r->file_eof) {
            enum astate was = r->as;
            r->as = AS_DONE;
            if (was == AS_IN_ELEM) {
                emit_elem(r, out);
                r->pending = "array not closed (no ']' before the end of the file)";
                r->pending_number = r->index + 1;
                return ST_OK;
            }
            if (was == AS_FIRST || was == AS_AFTER_COMMA) {
                static const uint8_t none[1];
                emit_syntax(r, "array not closed (no ']' before the end of the file)", r->index + 1, none, 0, out);
                return ST_OK;
            }
            *eof = 1;
            return ST_OK;
        }
        if (r->as == AS_DONE) {
            /* Nothing more is used: stop reading the file. */
            *eof = 1;
            return ST_OK;
        }
        st_code rc = fill(r, e);
        if (rc) return rc;
    }
}

st_code rec_reader_next(rec_reader *r, rec_record *out, int *eof, st_err *e)
{
    *eof = 0;
    if (r->finished) {
        *eof = 1;
        return ST_OK;
    }
    if (!r->detected) {
        st_code rc = detect(r, e);
        if (rc) return rc;
    }
    st_code rc = r->is_array ? next_elem(r, out, eof, e) : next_line(r, out, eof, e);
    if (rc == ST_OK && *eof) r->finished = 1;
    return rc;
}
