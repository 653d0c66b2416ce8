/* sim_anomaly.c — anomalies injected into a sensor's readings (see simulator.h,
 * iot_sim_anomaly): the ground truth of the Gold job's detector. Every draw comes from the
 * run's anomaly generator, so the main stream of draws, hence every other reading, is the
 * same as without anomalies. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "iot/sensor_kinds.h"
#include "sim/sim_internal.h"

static const int64_t min_us = 60LL * 1000000;
static const int64_t warmup_us = 20 * 60LL * 1000000;  /* detectors need history first */
static const int64_t rest_us = 15 * 60LL * 1000000;    /* clean time between two episodes of a sensor */

static const char *const anomaly_names[IOT_SIM_ANOMALY_COUNT] = {"none", "stuck", "drift", "spike", "silent"};

const char *iot_sim_anomaly_str(iot_sim_anomaly k)
{
    return (unsigned)k < IOT_SIM_ANOMALY_COUNT ? anomaly_names[k] : "unknown";
}

/* An exponential wait with mean 1/rate hours. */
static int64_t wait_us(sim_rng *r, double rate_per_h)
{
    double u = sim_rng_unit(r);
    return (int64_t)(-log(1 - u) / rate_per_h * 3600e6);
}

void sim_anomaly_init(struct sim_anomaly_state *a, sim_rng *arng, int64_t start_us, double rate_per_h)
{
    memset(a, 0, sizeof *a);
    a->kind = IOT_SIM_ANOMALY_NONE;
    a->next_start = start_us + warmup_us + wait_us(arng, rate_per_h);
}

/* Writes the episode going on to *done and schedules the next one after a rest. */
static void finish(sim_sensor *x, sim_rng *arng, double rate_per_h, iot_sim_episode *done)
{
    struct sim_anomaly_state *a = &x->anomaly;
    memset(done, 0, sizeof *done);
    snprintf(done->sensor_id, sizeof done->sensor_id, "%.*s", (int)x->id_len, x->id);
    done->kind = (iot_sim_anomaly)a->kind;
    done->start_us = a->first_t;
    done->end_us = a->last_t;
    done->readings = a->readings;
    done->magnitude = a->kind == IOT_SIM_ANOMALY_SILENT ? 0 : a->magnitude;
    if (a->kind == IOT_SIM_ANOMALY_STUCK) { /* the value as events carry it */
        st_buf tmp = {0};
        done->magnitude = sim_append_fixed(&tmp, a->stuck_reading, sim_kinds[x->kind].decimals);
        st_buf_free(&tmp);
    }
    int64_t from = a->end > a->last_t ? a->end : a->last_t;
    a->kind = IOT_SIM_ANOMALY_NONE;
    a->next_start = arng ? from + rest_us + wait_us(arng, rate_per_h) : INT64_MAX;
}

/* Starts an episode at reading time t, or stops scheduling when it could not end by until. */
static void start(sim_sensor *x, sim_rng *arng, int64_t until_us, int64_t t, double reading)
{
    struct sim_anomaly_state *a = &x->anomaly;
    const sim_kind *k = &sim_kinds[x->kind];
    int kind = 1 + (int)sim_rng_below(arng, IOT_SIM_ANOMALY_COUNT - 1);
    int64_t dur = 0;
    double sign = sim_rng_unit(arng) < 0.5 ? -1 : 1;
    a->magnitude = 0;
    switch (kind) {
    case IOT_SIM_ANOMALY_STUCK: dur = (int64_t)sim_rng_uniform(arng, 5, 20) * min_us; break;
    case IOT_SIM_ANOMALY_DRIFT:
        dur = (int64_t)sim_rng_uniform(arng, 20, 40) * min_us;
        a->magnitude = sign * sim_rng_uniform(arng, k->drift_lo, k->drift_hi);
        break;
    case IOT_SIM_ANOMALY_SILENT: dur = (int64_t)sim_rng_uniform(arng, 3, 15) * min_us; break;
    default: { /* spike: inside the physical range (the other way when one side would leave it) */
        const iot_kind *c = iot_kind_find(k->name, strlen(k->name));
        a->magnitude = sign * sim_rng_uniform(arng, 12, 25) * k->noise;
        if (c && (reading + a->magnitude < c->min || reading + a->magnitude > c->max)) a->magnitude = -a->magnitude;
        a->spike_left = 1 + (int)sim_rng_below(arng, 3);
        break;
    }
    }
    if (until_us > 0 && t + dur > until_us) {
        a->next_start = INT64_MAX;
        return;
    }
    a->kind = kind;
    a->start = t;
    a->end = t + dur;
    a->stuck_reading = reading;
    a->first_t = a->last_t = 0;
    a->readings = 0;
}

int sim_anomaly_step(sim_sensor *x, sim_rng *arng, double rate_per_h, int64_t until_us, int64_t t, double *reading,
                     int *drop, iot_sim_anomaly *kind, iot_sim_episode *done)
{
    struct sim_anomaly_state *a = &x->anomaly;
    int finished = 0;
    *drop = 0;
    *kind = IOT_SIM_ANOMALY_NONE;
    if (a->kind != IOT_SIM_ANOMALY_NONE && a->kind != IOT_SIM_ANOMALY_SPIKE && t >= a->end) {
        finish(x, arng, rate_per_h, done);
        finished = 1;
    }
    if (a->kind == IOT_SIM_ANOMALY_NONE) {
        if (finished || t < a->next_start) return finished;
        start(x, arng, until_us, t, *reading);
        if (a->kind == IOT_SIM_ANOMALY_NONE) return 0;
    }
    switch (a->kind) {
    case IOT_SIM_ANOMALY_STUCK: *reading = a->stuck_reading; break;
    case IOT_SIM_ANOMALY_DRIFT: *reading += a->magnitude * (double)(t - a->start) / (double)(a->end - a->start); break;
    case IOT_SIM_ANOMALY_SILENT: *drop = 1; break;
    default: *reading += a->magnitude; break;
    }
    *kind = (iot_sim_anomaly)a->kind;
    if (!a->readings) a->first_t = t;
    a->last_t = t;
    a->readings++;
    if (a->kind == IOT_SIM_ANOMALY_SPIKE && --a->spike_left == 0) {
        finish(x, arng, rate_per_h, done);
        return 1;
    }
    return 0;
}

int sim_anomaly_finish(sim_sensor *x, iot_sim_episode *done)
{
    if (x->anomaly.kind == IOT_SIM_ANOMALY_NONE || !x->anomaly.readings) return 0;
    finish(x, NULL, 0, done);
    return 1;
}

void iot_sim_episodes_header(st_buf *out)
{
    st_buf_append_str(out, "sensor_id,kind,start_us,end_us,readings,magnitude\n");
}

void iot_sim_episode_line(const iot_sim_episode *ep, st_buf *out)
{
    st_buf_printf(out, "%s,%s,%lld,%lld,%lld,", ep->sensor_id, iot_sim_anomaly_str(ep->kind), (long long)ep->start_us,
                  (long long)ep->end_us, (long long)ep->readings);
    iot_append_double(out, ep->magnitude);
    st_buf_append_u8(out, '\n');
}
