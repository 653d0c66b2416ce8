/* thrift_compact.c — Thrift compact protocol encoder and bounds-checked decoder
 * (written from the Thrift compact protocol specification). */
#include "parquet/thrift_compact.h"

#include <string.h>

void tc_write_varint(st_buf *b, uint64_t v)
{
    st_buf_reserve(b, 10);
    uint8_t *p = b->data + b->len;
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    b->len = (size_t)(p - b->data);
}

/* ZigZag: small negative numbers become small varints. */
static uint64_t zigzag64(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static uint32_t zigzag32(int32_t v) { return ((uint32_t)v << 1) ^ (uint32_t)(v >> 31); }

void tc_writer_init(tc_writer *w, st_buf *out)
{
    memset(w, 0, sizeof *w);
    w->out = out;
    w->depth = 0;
}

void tc_struct_begin(tc_writer *w)
{
    if (w->depth < TC_MAX_DEPTH - 1) w->depth++;
    w->last[w->depth] = 0;
}

void tc_struct_end(tc_writer *w)
{
    st_buf_append_u8(w->out, TC_STOP);
    if (w->depth > 0) w->depth--;
}

/* Field header: short form (delta << 4 | type) when 0 < delta <= 15. */
static void field_header(tc_writer *w, int16_t id, int type)
{
    int delta = id - w->last[w->depth];
    if (delta > 0 && delta <= 15) {
        st_buf_append_u8(w->out, (uint8_t)((delta << 4) | type));
    } else {
        st_buf_append_u8(w->out, (uint8_t)type);
        tc_write_varint(w->out, zigzag32(id));
    }
    w->last[w->depth] = id;
}

void tc_field_i32(tc_writer *w, int16_t id, int32_t v)
{
    field_header(w, id, TC_I32);
    tc_write_varint(w->out, zigzag32(v));
}

void tc_field_i16(tc_writer *w, int16_t id, int16_t v)
{
    field_header(w, id, TC_I16);
    tc_write_varint(w->out, zigzag32(v));
}

void tc_field_i64(tc_writer *w, int16_t id, int64_t v)
{
    field_header(w, id, TC_I64);
    tc_write_varint(w->out, zigzag64(v));
}

void tc_field_bool(tc_writer *w, int16_t id, int v) { field_header(w, id, v ? TC_TRUE : TC_FALSE); }

void tc_field_i8(tc_writer *w, int16_t id, int8_t v)
{
    field_header(w, id, TC_BYTE);
    st_buf_append_u8(w->out, (uint8_t)v);
}

void tc_field_binary(tc_writer *w, int16_t id, const void *p, size_t n)
{
    field_header(w, id, TC_BINARY);
    tc_write_binary(w, p, n);
}

void tc_field_string(tc_writer *w, int16_t id, const char *s) { tc_field_binary(w, id, s, strlen(s)); }

void tc_field_struct_begin(tc_writer *w, int16_t id)
{
    field_header(w, id, TC_STRUCT);
    tc_struct_begin(w);
}

void tc_field_list_begin(tc_writer *w, int16_t id, int elem_type, uint32_t size)
{
    field_header(w, id, TC_LIST);
    if (size < 15) {
        st_buf_append_u8(w->out, (uint8_t)((size << 4) | (uint32_t)elem_type));
    } else {
        st_buf_append_u8(w->out, (uint8_t)(0xF0 | elem_type));
        tc_write_varint(w->out, size);
    }
}

void tc_write_i32(tc_writer *w, int32_t v) { tc_write_varint(w->out, zigzag32(v)); }
void tc_write_i64(tc_writer *w, int64_t v) { tc_write_varint(w->out, zigzag64(v)); }

void tc_write_binary(tc_writer *w, const void *p, size_t n)
{
    tc_write_varint(w->out, n);
    st_buf_append(w->out, p, n);
}

/* ------------------------------------------------------------------ reader */

void tc_reader_init(tc_reader *r, const uint8_t *p, size_t n)
{
    memset(r, 0, sizeof *r);
    r->p = p;
    r->end = p + n;
}

size_t tc_reader_offset(const tc_reader *r, const uint8_t *start) { return (size_t)(r->p - start); }

static uint64_t read_varint(tc_reader *r)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end) {
            r->err = 1;
            return 0;
        }
        uint8_t b = *r->p++;
        v |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) return v;
    }
    r->err = 1;
    return 0;
}

void tc_read_struct_begin(tc_reader *r)
{
    if (r->depth >= TC_MAX_DEPTH - 1) {
        r->err = 1;
        return;
    }
    r->depth++;
    r->last[r->depth] = 0;
}

void tc_read_struct_end(tc_reader *r)
{
    if (r->depth > 0) r->depth--;
}

int tc_read_field(tc_reader *r, int *type, int16_t *id)
{
    if (r->err) return 0;
    if (r->p >= r->end) {
        r->err = 1;
        return 0;
    }
    uint8_t b = *r->p++;
    if (b == TC_STOP) return 0;
    *type = b & 0x0F;
    int delta = b >> 4;
    if (delta) {
        *id = (int16_t)(r->last[r->depth] + delta);
    } else {
        uint64_t z = read_varint(r);
        *id = (int16_t)((int64_t)(z >> 1) ^ -(int64_t)(z & 1));
    }
    if (*type > TC_STRUCT || *type == TC_STOP) {
        r->err = 1;
        return 0;
    }
    r->last[r->depth] = *id;
    return !r->err;
}

int8_t tc_read_i8(tc_reader *r)
{
    if (r->p >= r->end) {
        r->err = 1;
        return 0;
    }
    return (int8_t)*r->p++;
}

int32_t tc_read_i32(tc_reader *r)
{
    uint64_t z = read_varint(r);
    return (int32_t)((uint32_t)(z >> 1) ^ (uint32_t)-(int64_t)(z & 1));
}

int64_t tc_read_i64(tc_reader *r)
{
    uint64_t z = read_varint(r);
    return (int64_t)((z >> 1) ^ (uint64_t)-(int64_t)(z & 1));
}

double tc_read_double(tc_reader *r)
{
    double d = 0;
    if (r->end - r->p < 8) {
        r->err = 1;
        r->p = r->end;
        return 0;
    }
    memcpy(&d, r->p, 8);
    r->p += 8;
    return d;
}

const uint8_t *tc_read_binary(tc_reader *r, uint32_t *len)
{
    uint64_t n = read_varint(r);
    if (r->err || n > (uint64_t)(r->end - r->p)) {
        r->err = 1;
        *len = 0;
        return r->end;
    }
    const uint8_t *p = r->p;
    r->p += n;
    *len = (uint32_t)n;
    return p;
}

void tc_read_list_begin(tc_reader *r, int *elem_type, uint32_t *size)
{
    *elem_type = 0;
    *size = 0;
    if (r->p >= r->end) {
        r->err = 1;
        return;
    }
    uint8_t b = *r->p++;
    uint64_t n = b >> 4;
    if (n == 15) n = read_varint(r);
    *elem_type = b & 0x0F;
    /* every element takes at least one byte, except bools packed... which also take one */
    if (r->err || n > (uint64_t)(r->end - r->p)) {
        r->err = 1;
        return;
    }
    *size = (uint32_t)n;
}

int tc_read_bool(tc_reader *r, int type, int in_list)
{
    if (!in_list) return type == TC_TRUE;
    if (r->p >= r->end) {
        r->err = 1;
        return 0;
    }
    return *r->p++ == 1;
}

void tc_skip(tc_reader *r, int type)
{
    if (r->err) return;
    switch (type) {
    case TC_TRUE:
    case TC_FALSE:
        return;
    case TC_BYTE:
        if (r->p >= r->end) r->err = 1;
        else r->p++;
        return;
    case TC_I16:
    case TC_I32:
    case TC_I64:
        (void)read_varint(r);
        return;
    case TC_DOUBLE:
        (void)tc_read_double(r);
        return;
    case TC_BINARY: {
        uint32_t n;
        (void)tc_read_binary(r, &n);
        return;
    }
    case TC_LIST:
    case TC_SET: {
        int et;
        uint32_t n;
        tc_read_list_begin(r, &et, &n);
        if (r->depth >= TC_MAX_DEPTH - 1) {
            r->err = 1;
            return;
        }
        r->depth++;
        for (uint32_t i = 0; i < n && !r->err; i++) {
            if (et == TC_TRUE || et == TC_FALSE) (void)tc_read_bool(r, et, 1);
            else tc_skip(r, et);
        }
        r->depth--;
        return;
    }
    case TC_MAP: {
        uint64_t n = read_varint(r);
        if (r->err) return;
        if (n == 0) return;
        if (r->p >= r->end || n > (uint64_t)(r->end - r->p)) {
            r->err = 1;
            return;
        }
        uint8_t kv = *r->p++;
        if (r->depth >= TC_MAX_DEPTH - 1) {
            r->err = 1;
            return;
        }
        r->depth++;
        for (uint64_t i = 0; i < n && !r->err; i++) {
            int kt = kv >> 4, vt = kv & 0x0F;
            if (kt == TC_TRUE || kt == TC_FALSE) (void)tc_read_bool(r, kt, 1);
            else tc_skip(r, kt);
            if (vt == TC_TRUE || vt == TC_FALSE) (void)tc_read_bool(r, vt, 1);
            else tc_skip(r, vt);
        }
        r->depth--;
        return;
    }
    case TC_STRUCT: {
        tc_read_struct_begin(r);
        int t;
        int16_t id;
        while (!r->err && tc_read_field(r, &t, &id)) tc_skip(r, t);
        tc_read_struct_end(r);
        return;
    }
    default:
        r->err = 1;
    }
}
