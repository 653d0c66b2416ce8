/* Unit tests of state/alerts: rules parsing, open/close without storms, save/load. */
#include "check.h"
#include "state/alerts.h"
#include "util/binio.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define S_US 1000000LL

static alert_reading RD(const char *sensor, const char *type, double v, int64_t t)
{
    alert_reading r;
    memset(&r, 0, sizeof r);
    r.sensor_id = (iot_str){sensor, strlen(sensor)};
    r.building_id = (iot_str){"b01", 3};
    r.room_id = (iot_str){"r01", 3};
    r.sensor_type = (iot_str){type, strlen(type)};
    r.floor = 2;
    r.value = v;
    r.event_time_us = t;
    return r;
}

static void test_rules(void)
{
    alert_rules *r = alert_rules_default();
    CHECK(alert_rules_count(r) == 3);
    const alert_rule *co2 = alert_rules_get(r, 0);
    CHECK_STR(co2->name, "co2_high");
    CHECK(co2->op == ALERT_OP_ABOVE && co2->hi == 1000 && co2->mode == ALERT_MODE_WINDOW);
    const alert_rule *t = alert_rules_get(r, 1);
    CHECK(t->op == ALERT_OP_OUTSIDE && t->lo == 18 && t->hi == 26 && t->mode == ALERT_MODE_CONSECUTIVE && t->n == 3);
    double b;
    CHECK(alert_rule_fails(t, 17.9, &b) && b == 18);
    CHECK(alert_rule_fails(t, 26.1, &b) && b == 26);
    CHECK(!alert_rule_fails(t, 26, &b));
    CHECK(!alert_rule_fails(co2, NAN, &b));
    /* hysteresis 0.5: 25.8 neither fails nor recovers */
    CHECK(!alert_rule_fails(t, 25.8, &b) && !alert_rule_recovered(t, 25.8) && alert_rule_recovered(t, 25.5));
    CHECK(!alert_rule_recovered(t, 17.9) && alert_rule_recovered(t, 18.5) && !alert_rule_recovered(t, NAN));
    st_buf d = {0};
    alert_rules_describe(r, &d);
    CHECK_STR(st_buf_cstr(&d), "co2_high co2 above 1000 window hysteresis 50\n"
                               "temperature temperature outside 18 26 consecutive 3 hysteresis 0.5\n"
                               "humidity humidity outside 30 70 window hysteresis 2\n");
    st_buf_free(&d);
    alert_rules_destroy(r);

    st_err e;
    const char *good = "# comment\n\n  low_bat battery below 10 consecutive 2  # trailing\nx co2 above 5e2 window\n";
    CHECK(alert_rules_parse(good, strlen(good), "g.conf", &r, &e) == ST_OK);
    CHECK(alert_rules_count(r) == 2);
    CHECK(alert_rules_get(r, 0)->op == ALERT_OP_BELOW && alert_rules_get(r, 0)->lo == 10);
    CHECK(alert_rules_get(r, 1)->hi == 500);
    alert_rules_destroy(r);
    const char *bad[] = {"a co2 above x window\n", "a co2 around 5 window\n", "a co2 above 5 consecutive 0\n",
                         "a co2 outside 9 1 window\n", "a co2 above 5\n", "a co2 above 5 window extra\n", "a co2 above 5 window hysteresis -1\n",
                         "a co2 above 1 window\na co2 above 2 window\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = NULL;
        CHECK_MSG(alert_rules_parse(bad[i], strlen(bad[i]), "b.conf", &r, &e) == ST_ERR_FORMAT, "%s", bad[i]);
        CHECK(r == NULL);
        CHECK(strstr(e.msg, "b.conf:") != NULL);
    }
    CHECK(alert_rules_load("/nonexistent/alerts.conf", &r, &e) == ST_ERR_NOTFOUND);
}

/* consecutive 3: one open after 3 failing readings, one close after 3 passing ones. */
static void test_consecutive(void)
{
    alert_rules *rules = alert_rules_default();
    alert_engine *a = alert_engine_new(rules);
    alert_list out = {0};
    /* 25.8 is in the hysteresis band (26 - 0.5 .. 26): it breaks the recovery run */
    double temps[] = {20, 27, 28, 20, 27, 28, 29, 30, 31, 25, 25.8, 25, 24, 23, 22, 21};
    for (size_t i = 0; i < sizeof temps / sizeof temps[0]; i++) {
        alert_reading r = RD("b01-f2-r01-temperature-1", "temperature", temps[i], (int64_t)i * S_US);
        alert_engine_on_reading(a, &r, 99, &out);
        if (i == 7) CHECK(alert_engine_open_count(a) == 1);
    }
    /* CO2 readings do not feed window rules */
    alert_reading c = RD("c", "co2", 5000, 0);
    alert_engine_on_reading(a, &c, 99, &out);
    CHECK(out.count == 2);
    if (out.count == 2) {
        CHECK_STR(out.items[0].state, "open");
        CHECK(out.items[0].value == 29 && out.items[0].threshold == 26 && out.items[0].event_time_us == 6 * S_US);
        CHECK_STR(out.items[1].state, "close");
        CHECK(out.items[1].value == 23 && out.items[1].threshold == 26 && out.items[1].event_time_us == 13 * S_US);
        CHECK_STR(out.items[0].alert_id, out.items[1].alert_id);
        CHECK_STR(out.items[0].alert_id, "temperature/b01-f2-r01-temperature-1/1970-01-01T00:00:06.000000Z");
        CHECK(out.items[1].detection_time_us == 99 && out.items[1].floor == 2);
        st_buf j = {0};
        alert_event_to_json(&out.items[0], &j);
        CHECK(strstr(st_buf_cstr(&j), "\"state\":\"open\",\"rule\":\"temperature\"") != NULL);
        CHECK_MSG(strstr(st_buf_cstr(&j), "\"value\":29.0,\"threshold\":26.0,") != NULL, "%s", st_buf_cstr(&j));
        st_buf_free(&j);
    }
    CHECK(alert_engine_open_count(a) == 0);
    alert_list_free(&out);
    alert_engine_destroy(a);
    alert_rules_destroy(rules);
}

/* Forgetting idle entries changes no outcome, and keeps only subjects with something going on:
 * 200 sensors, each reading 300 times a random walk around the bounds, with and without
 * alert_engine_forget_idle after every reading, give the same alerts. */
static void test_forget_idle(void)
{
    alert_rules *rules = alert_rules_default();
    alert_engine *a = alert_engine_new(rules), *b = alert_engine_new(rules);
    alert_list oa = {0}, ob = {0};
    uint64_t x = 42;
    size_t most = 0;
    for (int k = 0; k < 300; k++)
        for (int s = 0; s < 200; s++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            double v = 22 + (double)((x >> 33) % 1000) / 100.0 * (s % 3 ? 0.5 : 1.2); /* 22 .. 34 */
            char id[32];
            snprintf(id, sizeof id, "b01-f2-r%03d-temperature-1", s);
            alert_reading r = RD(id, "temperature", v, (int64_t)k * S_US);
            alert_engine_on_reading(a, &r, 7, &oa);
            alert_engine_on_reading(b, &r, 7, &ob);
            alert_engine_forget_idle(b);
            if (alert_engine_size(b) > most) most = alert_engine_size(b);
        }
    CHECK(oa.count == ob.count && oa.count > 100);
    for (size_t i = 0; i < oa.count && i < ob.count; i++) {
        CHECK_STR(oa.items[i].alert_id, ob.items[i].alert_id);
        CHECK_STR(oa.items[i].state, ob.items[i].state);
    }
    CHECK(alert_engine_open_count(a) == alert_engine_open_count(b));
    CHECK(alert_engine_size(a) == 200 && most < 200);
    CHECK(alert_engine_size(b) >= alert_engine_open_count(b));
    alert_list_free(&oa);
    alert_list_free(&ob);
    alert_engine_destroy(a);
    alert_engine_destroy(b);
    alert_rules_destroy(rules);
}

static win_result W(const char *room, double avg, int64_t start)
{
    win_result w;
    memset(&w, 0, sizeof w);
    w.building_id = "b01";
    w.room_id = (char *)room;
    w.sensor_type = "co2";
    w.last_sensor_id = "b01-f1-r01-co2-1";
    w.floor = 1;
    w.avg = avg;
    w.start_us = start;
    return w;
}

/* window rule: open on the first failing window, no storm, close on a passing one; state survives
 * save/load. */
static void test_window_and_persistence(void)
{
    alert_rules *rules = alert_rules_default();
    alert_engine *a = alert_engine_new(rules);
    alert_list out = {0};
    win_result w1 = W("r01", 800, 0), w2 = W("r01", 1200, 60), w3 = W("r01", 1500, 120), w4 = W("r02", 1100, 120);
    alert_engine_on_window(a, &w1, 1, &out);
    alert_engine_on_window(a, &w2, 1, &out);
    alert_engine_on_window(a, &w3, 1, &out);
    alert_engine_on_window(a, &w4, 1, &out);
    CHECK(out.count == 2 && alert_engine_open_count(a) == 2);
    /* consecutive temperature run of 2 (needs 3) must survive the reload */
    alert_reading t = RD("t1", "temperature", 40, 0);
    alert_engine_on_reading(a, &t, 1, &out);
    alert_engine_on_reading(a, &t, 1, &out);
    CHECK(out.count == 2);

    st_buf b = {0};
    alert_engine_save(a, &b);
    alert_engine *a2 = alert_engine_new(rules);
    binio_reader rd = {b.data, b.data + b.len, "t"};
    st_err e;
    CHECK(alert_engine_load(a2, &rd, &e) == ST_OK);
    CHECK(alert_engine_open_count(a2) == 2);
    alert_engine_on_reading(a2, &t, 1, &out);
    CHECK(out.count == 3 && alert_engine_open_count(a2) == 3);
    win_result w5 = W("r01", 900, 180);
    alert_engine_on_window(a2, &w5, 2, &out);
    CHECK(out.count == 4);
    if (out.count == 4) {
        CHECK_STR(out.items[3].state, "close");
        CHECK_STR(out.items[3].alert_id, out.items[0].alert_id);
        CHECK_STR(out.items[0].alert_id, "co2_high/b01/1/r01/1970-01-01T00:00:00.000060Z");
        CHECK_STR(out.items[3].sensor_id, "b01-f1-r01-co2-1");
    }
    /* truncated state */
    rd = (binio_reader){b.data, b.data + b.len - 1, "t"};
    CHECK(alert_engine_load(a2, &rd, &e) == ST_ERR_FORMAT);
    CHECK(alert_engine_open_count(a2) == 0);
    /* rules changed: state of a removed rule is dropped */
    alert_rules *only_co2 = NULL;
    const char *txt = "co2_high co2 above 1000 window\n";
    CHECK(alert_rules_parse(txt, strlen(txt), "x", &only_co2, &e) == ST_OK);
    alert_engine *a3 = alert_engine_new(only_co2);
    rd = (binio_reader){b.data, b.data + b.len, "t"};
    CHECK(alert_engine_load(a3, &rd, &e) == ST_OK);
    CHECK(alert_engine_open_count(a3) == 2);
    alert_engine_destroy(a3);
    alert_rules_destroy(only_co2);

    st_buf_free(&b);
    alert_list_free(&out);
    alert_engine_destroy(a2);
    alert_engine_destroy(a);
    alert_rules_destroy(rules);
}

int main(void)
{
    test_rules();
    test_consecutive();
    test_forget_idle();
    test_window_and_persistence();
    return CHECK_DONE();
}
