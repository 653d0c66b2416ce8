/* anomaly_save.c — the anomaly model's part of Gold's state file (see anomaly.h). Every
 * field is written, so a loaded model continues exactly where the saved one was; lengths
 * and indexes are checked against the buffer, so a damaged state is refused whole. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "state/anomaly_internal.h"
#include "util/binio.h"

#define ANOMALY_MAGIC 0x414e4d31u /* "ANM1" */

static void put_f32(st_buf *b, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    binio_put_u32(b, u);
}

static st_code get_f32(binio_reader *r, float *f, st_err *e)
{
    uint32_t u;
    if (binio_get_u32(r, &u, e)) return ST_ERR_FORMAT;
    memcpy(f, &u, 4);
    return ST_OK;
}

/* Bytes packed four to a u32 (n a multiple of 4). */
static void put_bytes4(st_buf *b, const uint8_t *v, size_t n)
{
    for (size_t i = 0; i < n; i += 4)
        binio_put_u32(b, (uint32_t)v[i] | (uint32_t)v[i + 1] << 8 | (uint32_t)v[i + 2] << 16 | (uint32_t)v[i + 3] << 24);
}

static st_code get_bytes4(binio_reader *r, uint8_t *v, size_t n, st_err *e)
{
    for (size_t i = 0; i < n; i += 4) {
        uint32_t u;
        if (binio_get_u32(r, &u, e)) return ST_ERR_FORMAT;
        for (int k = 0; k < 4; k++) v[i + k] = (uint8_t)(u >> (8 * k));
    }
    return ST_OK;
}

static void put_episode(st_buf *b, const an_episode *ep)
{
    binio_put_i64(b, ep->start_us);
    binio_put_i64(b, ep->end_us);
    binio_put_i64(b, ep->readings);
    binio_put_f64(b, ep->score);
    binio_put_f64(b, ep->value);
    binio_put_f64(b, ep->expected);
    binio_put_f64(b, ep->threshold);
    binio_put_f64(b, ep->aux);
    binio_put_u32(b, (uint32_t)ep->open);
    binio_put_u32(b, (uint32_t)ep->mode);
    binio_put_u32(b, (uint32_t)ep->nref);
}

static st_code get_i32(binio_reader *r, int32_t *v, st_err *e)
{
    uint32_t u;
    if (binio_get_u32(r, &u, e)) return ST_ERR_FORMAT;
    *v = (int32_t)u;
    return ST_OK;
}

static st_code get_episode(binio_reader *r, an_episode *ep, st_err *e)
{
    if (binio_get_i64(r, &ep->start_us, e) || binio_get_i64(r, &ep->end_us, e) ||
        binio_get_i64(r, &ep->readings, e) || binio_get_f64(r, &ep->score, e) || binio_get_f64(r, &ep->value, e) ||
        binio_get_f64(r, &ep->expected, e) || binio_get_f64(r, &ep->threshold, e) || binio_get_f64(r, &ep->aux, e) || get_i32(r, &ep->open, e) ||
        get_i32(r, &ep->mode, e) || get_i32(r, &ep->nref, e))
        return ST_ERR_FORMAT;
    return ST_OK;
}

static void put_sensor(st_buf *b, const an_sensor *s)
{
    binio_put_str(b, s->id, s->id_len);
    binio_put_u32(b, s->group);
    binio_put_u32(b, s->part);
    binio_put_i64(b, s->n);
    binio_put_i64(b, s->last_t);
    binio_put_f64(b, s->last_v);
    for (int i = 0; i < AN_GAPS; i++) binio_put_u32(b, (uint32_t)s->gaps_ms[i]);
    binio_put_u32(b, (uint32_t)s->gap_next);
    binio_put_u32(b, (uint32_t)s->gap_n);
    binio_put_f64(b, s->level);
    binio_put_f64(b, s->trend);
    binio_put_f64(b, s->mad);
    binio_put_f64(b, s->res);
    binio_put_i64(b, s->level_t);
    binio_put_u32(b, (uint32_t)s->pend);
    binio_put_u32(b, (uint32_t)s->pend_sign);
    binio_put_f64(b, s->pend_peak);
    binio_put_f64(b, s->pend_pred);
    binio_put_f64(b, s->pend_z);
    binio_put_i64(b, s->pend_t0);
    binio_put_i64(b, s->pend_t1);
    binio_put_i64(b, s->run_pairs);
    binio_put_i64(b, s->run_t0);
    binio_put_f64(b, s->run_v);
    binio_put_f64(b, s->zw);
    binio_put_f64(b, s->mw);
    for (int k = 0; k < ANOMALY_KIND_COUNT; k++) put_episode(b, &s->ep[k]);
    for (int i = 0; i < AN_RING; i++) put_f32(b, s->ring_sum[i]);
    put_bytes4(b, s->ring_n, AN_RING);
    binio_put_f64(b, s->base);
    binio_put_f64(b, s->sd);
    binio_put_u32(b, (uint32_t)s->learned);
    binio_put_u32(b, (uint32_t)s->ex_len);
    binio_put_u32(b, (uint32_t)s->ex_sign);
    binio_put_u32(b, (uint32_t)s->ex_mode);
    binio_put_i64(b, s->ex_start);
    for (int i = 0; i < AN_HOURS; i++) put_f32(b, s->prof_mu[i]);
    for (int i = 0; i < AN_HOURS; i++) put_f32(b, s->prof_mad[i]);
    put_bytes4(b, s->prof_days, AN_HOURS);
    binio_put_f64(b, s->hour_sum);
    binio_put_u32(b, (uint32_t)s->hour_n);
    binio_put_u32(b, (uint32_t)s->hour_skip);
    binio_put_i64(b, s->hour_id);
}

static st_code get_sensor(binio_reader *r, an_sensor *s, st_err *e)
{
    size_t idl = 0;
    st_code rc = binio_get_str(r, &s->id, &idl, e);
    s->id_len = (uint32_t)idl;
    if (!rc) rc = binio_get_u32(r, &s->group, e);
    if (!rc) rc = binio_get_u32(r, &s->part, e);
    if (!rc) rc = binio_get_i64(r, &s->n, e);
    if (!rc) rc = binio_get_i64(r, &s->last_t, e);
    if (!rc) rc = binio_get_f64(r, &s->last_v, e);
    for (int i = 0; i < AN_GAPS && !rc; i++) rc = get_i32(r, &s->gaps_ms[i], e);
    if (!rc) rc = get_i32(r, &s->gap_next, e);
    if (!rc) rc = get_i32(r, &s->gap_n, e);
    if (!rc) rc = binio_get_f64(r, &s->level, e);
    if (!rc) rc = binio_get_f64(r, &s->trend, e);
    if (!rc) rc = binio_get_f64(r, &s->mad, e);
    if (!rc) rc = binio_get_f64(r, &s->res, e);
    if (!rc) rc = binio_get_i64(r, &s->level_t, e);
    if (!rc) rc = get_i32(r, &s->pend, e);
    if (!rc) rc = get_i32(r, &s->pend_sign, e);
    if (!rc) rc = binio_get_f64(r, &s->pend_peak, e);
    if (!rc) rc = binio_get_f64(r, &s->pend_pred, e);
    if (!rc) rc = binio_get_f64(r, &s->pend_z, e);
    if (!rc) rc = binio_get_i64(r, &s->pend_t0, e);
    if (!rc) rc = binio_get_i64(r, &s->pend_t1, e);
    if (!rc) rc = binio_get_i64(r, &s->run_pairs, e);
    if (!rc) rc = binio_get_i64(r, &s->run_t0, e);
    if (!rc) rc = binio_get_f64(r, &s->run_v, e);
    if (!rc) rc = binio_get_f64(r, &s->zw, e);
    if (!rc) rc = binio_get_f64(r, &s->mw, e);
    for (int k = 0; k < ANOMALY_KIND_COUNT && !rc; k++) rc = get_episode(r, &s->ep[k], e);
    for (int i = 0; i < AN_RING && !rc; i++) rc = get_f32(r, &s->ring_sum[i], e);
    if (!rc) rc = get_bytes4(r, s->ring_n, AN_RING, e);
    if (!rc) rc = binio_get_f64(r, &s->base, e);
    if (!rc) rc = binio_get_f64(r, &s->sd, e);
    if (!rc) rc = get_i32(r, &s->learned, e);
    if (!rc) rc = get_i32(r, &s->ex_len, e);
    if (!rc) rc = get_i32(r, &s->ex_sign, e);
    if (!rc) rc = get_i32(r, &s->ex_mode, e);
    if (!rc) rc = binio_get_i64(r, &s->ex_start, e);
    for (int i = 0; i < AN_HOURS && !rc; i++) rc = get_f32(r, &s->prof_mu[i], e);
    for (int i = 0; i < AN_HOURS && !rc; i++) rc = get_f32(r, &s->prof_mad[i], e);
    if (!rc) rc = get_bytes4(r, s->prof_days, AN_HOURS, e);
    if (!rc) rc = binio_get_f64(r, &s->hour_sum, e);
    if (!rc) rc = get_i32(r, &s->hour_n, e);
    if (!rc) rc = get_i32(r, &s->hour_skip, e);
    if (!rc) rc = binio_get_i64(r, &s->hour_id, e);
    if (!rc && (s->gap_n < 0 || s->gap_n > AN_GAPS || s->gap_next < 0 || s->gap_next >= AN_GAPS))
        rc = st_err_set(e, ST_ERR_FORMAT, "%s: anomaly state: bad gap ring of sensor %s", r->what, s->id);
    return rc;
}

void anomaly_model_save(const anomaly_model *m, st_buf *out)
{
    binio_put_u32(out, ANOMALY_MAGIC);
    binio_put_i64(out, AN_BUCKET_US);
    binio_put_i64(out, (int64_t)m->ignored);
    binio_put_i64(out, (int64_t)m->np);
    for (size_t i = 0; i < m->np; i++) {
        binio_put_u32(out, (uint32_t)m->parts[i].id);
        binio_put_i64(out, m->parts[i].max_t > m->parts[i].pending ? m->parts[i].max_t : m->parts[i].pending);
    }
    binio_put_i64(out, (int64_t)m->ng);
    for (size_t i = 0; i < m->ng; i++) {
        const an_group *g = m->g[i];
        binio_put_str(out, g->building, strlen(g->building));
        binio_put_i64(out, g->floor);
        binio_put_str(out, g->room, strlen(g->room));
        binio_put_str(out, g->type, strlen(g->type));
        binio_put_i64(out, g->cursor);
        binio_put_i64(out, g->head);
        binio_put_i64(out, g->joined);
        binio_put_i64(out, g->n);
        for (uint32_t k = 0; k < g->n; k++) binio_put_u32(out, g->members[k]);
    }
    binio_put_i64(out, (int64_t)m->ns);
    for (size_t i = 0; i < m->ns; i++) put_sensor(out, m->s[i]);
}

st_code anomaly_model_load(anomaly_model *m, binio_reader *r, st_err *e)
{
    an_model_clear(m);
    uint32_t magic;
    int64_t bw, ign, np, ng, ns;
    if (binio_get_u32(r, &magic, e)) return ST_ERR_FORMAT;
    if (magic != ANOMALY_MAGIC) return st_err_set(e, ST_ERR_FORMAT, "%s: anomaly state: bad magic", r->what);
    if (binio_get_i64(r, &bw, e) || binio_get_i64(r, &ign, e) || binio_get_i64(r, &np, e)) return ST_ERR_FORMAT;
    if (bw != AN_BUCKET_US)
        return st_err_set(e, ST_ERR_FORMAT, "%s: anomaly state made with %lld us steps, not %lld", r->what,
                          (long long)bw, (long long)AN_BUCKET_US);
    st_code rc = ST_OK;
    m->ignored = (uint64_t)ign;
    if (np < 0 || np > r->end - r->p) return st_err_set(e, ST_ERR_FORMAT, "%s: anomaly state: bad partition count", r->what);
    for (int64_t i = 0; i < np && !rc; i++) {
        int32_t id = 0;
        int64_t mx = 0;
        rc = get_i32(r, &id, e);
        if (!rc) rc = binio_get_i64(r, &mx, e);
        if (!rc) {
            uint32_t k = an_part_get(m, id);
            m->parts[k].max_t = m->parts[k].pending = mx;
        }
    }
    if (!rc) rc = binio_get_i64(r, &ng, e);
    if (!rc && (ng < 0 || ng > r->end - r->p)) rc = st_err_set(e, ST_ERR_FORMAT, "%s: anomaly state: bad room count", r->what);
    for (int64_t i = 0; i < ng && !rc; i++) {
        char *bld = NULL, *room = NULL, *type = NULL;
        int64_t nm = 0, floor = 0;
        rc = binio_get_str(r, &bld, NULL, e);
        if (!rc) rc = binio_get_i64(r, &floor, e);
        if (!rc) rc = binio_get_str(r, &room, NULL, e);
        if (!rc) rc = binio_get_str(r, &type, NULL, e);
        if (rc) {
            free(bld);
            free(room);
            free(type);
            break;
        }
        uint32_t gi = an_group_add(m, bld, room, type, (int32_t)floor); /* may move m->g */
        an_group *g = m->g[gi];
        rc = binio_get_i64(r, &g->cursor, e);
        if (!rc) rc = binio_get_i64(r, &g->head, e);
        if (!rc) rc = binio_get_i64(r, &g->joined, e);
        if (!rc) rc = binio_get_i64(r, &nm, e);
        if (!rc && (nm < 0 || nm > (r->end - r->p) / 4))
            rc = st_err_set(e, ST_ERR_FORMAT, "%s: anomaly state: bad member count", r->what);
        if (!rc) {
            g->cap = g->n = (uint32_t)nm;
            g->members = st_xcalloc(nm ? (size_t)nm : 1, sizeof *g->members);
            for (int64_t k = 0; k < nm && !rc; k++) rc = binio_get_u32(r, &g->members[k], e);
        }
    }
    if (!rc) rc = binio_get_i64(r, &ns, e);
    if (!rc && (ns < 0 || ns > r->end - r->p)) rc = st_err_set(e, ST_ERR_FORMAT, "%s: anomaly state: bad sensor count", r->what);
    for (int64_t i = 0; i < ns && !rc; i++) {
        an_sensor *s = st_xcalloc(1, sizeof *s);
        rc = get_sensor(r, s, e);
        if (!rc && (s->group >= m->ng || s->part >= m->np))
            rc = st_err_set(e, ST_ERR_FORMAT, "%s: anomaly state: sensor %s refers to a missing room or partition",
                            r->what, s->id);
        if (rc) {
            free(s->id);
            free(s);
            break;
        }
        an_sensor_add(m, s);
        for (int k = 0; k < ANOMALY_KIND_COUNT; k++)
            if (s->ep[k].open) m->open++;
    }
    for (size_t i = 0; i < m->ng && !rc; i++)
        for (uint32_t k = 0; k < m->g[i]->n; k++)
            if (m->g[i]->members[k] >= m->ns) {
                rc = st_err_set(e, ST_ERR_FORMAT, "%s: anomaly state: room member out of range", r->what);
                break;
            }
    if (rc) an_model_clear(m);
    return rc;
}
