/* test_iot_sensor_id.c — iot_event_sensor_id (what the MQTT bridge checks before forwarding) gives
 * the very verdict iot_event_parse (Silver) gives on rules 1-3, over 200,000 simulated events with
 * faults, and finds the sensor_id Silver would store. */
#include <string.h>

#include "check.h"
#include "iot/event.h"
#include "sim/simulator.h"

static int early(iot_reason r)
{
    return r == IOT_LINE_TOO_LONG || r == IOT_INVALID_UTF8 || r == IOT_MALFORMED_JSON || r == IOT_NOT_AN_OBJECT;
}

int main(void)
{
    iot_sim_config cfg;
    iot_sim_config_init(&cfg);
    cfg.fault_rate = 0.3;
    cfg.seed = 7;
    iot_sim *sim = NULL;
    CHECK(iot_sim_new(&cfg, &sim, NULL) == ST_OK);
    iot_arena *a1 = iot_arena_new(), *a2 = iot_arena_new();
    iot_parse_opts po;
    iot_parse_opts_init(&po);
    po.future_tolerance_us = -1;
    int mismatches = 0, early_seen = 0, ids = 0;
    for (int i = 0; i < 200000; i++) {
        iot_sim_event ev;
        iot_sim_next(sim, &ev);
        iot_arena_reset(a1);
        iot_arena_reset(a2);
        iot_str sid;
        iot_result r1, r2;
        iot_event e;
        iot_reason v1 = iot_event_sensor_id(ev.value.ptr, ev.value.len, &po, a1, &sid, &r1);
        iot_reason v2 = iot_event_parse(ev.value.ptr, ev.value.len, &po, a2, &e, &r2);
        if (early(v1) || early(v2)) {
            early_seen++;
            if (v1 != v2 || strcmp(r1.name, r2.name) != 0) mismatches++;
        }
        if (v2 == IOT_OK) {
            if (v1 != IOT_OK || sid.len != e.sensor_id.len || memcmp(sid.ptr, e.sensor_id.ptr, sid.len)) mismatches++;
            ids++;
        }
    }
    CHECK_MSG(mismatches == 0, "%d verdicts differ", mismatches);
    CHECK(early_seen > 1000 && ids > 100000);
    /* escapes and the sensor_id-only rules */
    iot_str sid;
    iot_result r;
    const char *esc = "{\"sensor_id\":\"a\\u00e9\"}";
    CHECK(iot_event_sensor_id(esc, strlen(esc), NULL, a1, &sid, &r) == IOT_OK);
    CHECK(sid.len == 3 && !memcmp(sid.ptr, "a\xc3\xa9", 3));
    CHECK(iot_event_sensor_id(esc, strlen(esc), NULL, NULL, &sid, &r) == IOT_INVALID_FIELD);
    CHECK(iot_event_sensor_id("{\"sensor_id\":null}", 18, NULL, a1, &sid, &r) == IOT_MISSING_FIELD);
    CHECK(!strcmp(r.name, "missing_field:sensor_id"));
    CHECK(iot_event_sensor_id("{\"sensor_id\":[1]}", 17, NULL, a1, &sid, &r) == IOT_WRONG_TYPE);
    CHECK(!strcmp(r.name, "wrong_type:sensor_id"));
    iot_arena_destroy(a1);
    iot_arena_destroy(a2);
    iot_sim_destroy(sim);
    return CHECK_DONE();
}
