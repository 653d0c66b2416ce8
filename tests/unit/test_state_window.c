/* Unit tests of state/window: window assignment, watermark, lateness, flush, save/load. */
#include "check.h"
#include "util/binio.h"
#include "state/window.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define S_US 1000000LL
#define MIN_US (60 * S_US)

static win_reading R(const char *room, const char *type, int64_t t, double v)
{
    win_reading r;
    memset(&r, 0, sizeof r);
    r.building_id = (iot_str){"b01", 3};
    r.floor = 1;
    r.room_id = (iot_str){room, strlen(room)};
    r.sensor_type = (iot_str){type, strlen(type)};
    r.sensor_id = (iot_str){"s1", 2};
    r.event_time_us = t;
    r.value = v;
    return r;
}

static void test_basic(void)
{
    win_state *w = win_state_new(MIN_US, 2 * MIN_US);
    win_reading r;
    int64_t s;
    CHECK(win_state_watermark(w) == INT64_MIN);
    r = R("r01", "co2", 10 * S_US, 500);
    CHECK(win_state_add(w, &r, &s) == WIN_ACCEPTED && s == 0);
    r = R("r01", "co2", 50 * S_US, 700);
    CHECK(win_state_add(w, &r, NULL) == WIN_ACCEPTED);
    r = R("r01", "co2", 70 * S_US, 600);
    CHECK(win_state_add(w, &r, &s) == WIN_ACCEPTED && s == MIN_US);
    r = R("r02", "co2", 5 * S_US, 400);
    CHECK(win_state_add(w, &r, NULL) == WIN_ACCEPTED);
    CHECK(win_state_open_count(w) == 3);
    CHECK(win_state_watermark(w) == INT64_MIN); /* moves only at the end of a version */
    win_state_advance(w);
    CHECK(win_state_watermark(w) == 70 * S_US - 2 * MIN_US);

    win_result *res;
    size_t n;
    win_state_take_closed(w, 0, &res, &n);
    CHECK(n == 0 && res == NULL);

    /* t = 180 s: watermark 60 s closes window [0, 60) of both rooms */
    r = R("r01", "co2", 180 * S_US, 800);
    CHECK(win_state_add(w, &r, NULL) == WIN_ACCEPTED);
    r = R("r01", "co2", 1 * S_US, 1); /* same version: judged against the old watermark */
    CHECK(win_state_add(w, &r, NULL) == WIN_ACCEPTED);
    win_state_advance(w);
    /* a reading for [0, 60) is now late; one for [60,120) at t = 61 s < W? W = 60 s: not late */
    r = R("r01", "co2", 59 * S_US, 1);
    CHECK(win_state_add(w, &r, NULL) == WIN_LATE);
    r = R("r01", "co2", 61 * S_US, 1000);
    CHECK(win_state_add(w, &r, NULL) == WIN_ACCEPTED);
    win_state_take_closed(w, 0, &res, &n);
    CHECK(n == 2);
    if (n == 2) {
        CHECK_STR(res[0].room_id, "r01");
        CHECK(res[0].count == 3 && res[0].min == 1 && res[0].max == 700 && res[0].sum == 1201);
        CHECK(res[0].first_us == 1 * S_US && res[0].last_us == 50 * S_US);
        CHECK(res[0].start_us == 0 && res[0].end_us == MIN_US);
        CHECK_STR(res[1].room_id, "r02");
        CHECK(res[1].count == 1 && res[1].sum == 400);
    }
    win_results_free(res, n);
    /* emitted once only */
    win_state_take_closed(w, 0, &res, &n);
    CHECK(n == 0);

    /* save, load into a fresh state, flush: same remaining windows */
    st_buf b = {0};
    win_state_save(w, &b);
    win_state *w2 = win_state_new(MIN_US, 2 * MIN_US);
    binio_reader rd = {b.data, b.data + b.len, "test"};
    st_err e;
    CHECK(win_state_load(w2, &rd, &e) == ST_OK);
    CHECK(rd.p == rd.end);
    CHECK(win_state_watermark(w2) == win_state_watermark(w));
    CHECK(win_state_open_count(w2) == 2);
    win_state_take_closed(w2, 1, &res, &n);
    CHECK(n == 2);
    if (n == 2) {
        CHECK(res[0].start_us == MIN_US && res[0].count == 2 && res[0].sum == 1600);
        CHECK(res[0].first_us == 61 * S_US && res[0].last_us == 70 * S_US);
        CHECK(res[1].start_us == 3 * MIN_US && res[1].count == 1);
    }
    win_results_free(res, n);
    /* after the flush, windows up to the flush mark (240 s) are closed */
    r = R("r09", "co2", 239 * S_US, 1);
    CHECK(win_state_add(w2, &r, NULL) == WIN_LATE);
    r = R("r09", "co2", 240 * S_US, 1);
    CHECK(win_state_add(w2, &r, NULL) == WIN_ACCEPTED);

    /* different settings refuse the checkpoint; a damaged one is a format error */
    win_state *w3 = win_state_new(2 * MIN_US, 2 * MIN_US);
    rd = (binio_reader){b.data, b.data + b.len, "test"};
    CHECK(win_state_load(w3, &rd, &e) == ST_ERR_ARG);
    win_state_destroy(w3);
    w3 = win_state_new(MIN_US, 2 * MIN_US);
    rd = (binio_reader){b.data, b.data + b.len - 3, "test"};
    CHECK(win_state_load(w3, &rd, &e) == ST_ERR_FORMAT);
    CHECK(win_state_open_count(w3) == 0);
    win_state_destroy(w3);

    st_buf_free(&b);
    win_state_destroy(w2);
    win_state_destroy(w);
}

/* Negative times floor correctly; many keys grow the table; flush marks. */
static void test_many(void)
{
    win_state *w = win_state_new(MIN_US, 0);
    win_reading r = R("r", "t", -1, 1);
    int64_t s;
    CHECK(win_state_add(w, &r, &s) == WIN_ACCEPTED && s == -MIN_US);
    win_result *res;
    size_t n;
    win_state_take_closed(w, 1, &res, &n);
    win_results_free(res, n);
    char room[16];
    for (int i = 0; i < 5000; i++) {
        snprintf(room, sizeof room, "r%04d", i % 1000);
        r = R(room, "co2", (int64_t)(i / 1000) * MIN_US + 1, i);
        CHECK(win_state_add(w, &r, NULL) == WIN_ACCEPTED);
    }
    /* lateness 0: watermark = 4 min + 1 us after the advance: windows 0..3 closed */
    CHECK(win_state_open_count(w) == 5000);
    win_state_advance(w);
    win_state_take_closed(w, 0, &res, &n);
    CHECK(n == 4000 && win_state_open_count(w) == 1000);
    for (size_t i = 1; i < n; i++) CHECK(res[i - 1].start_us <= res[i].start_us);
    win_results_free(res, n);
    r = R("x", "co2", 10 * MIN_US, 0);
    win_state_add(w, &r, NULL);
    win_state_advance(w);
    win_state_take_closed(w, 0, &res, &n);
    CHECK(n == 1000);
    for (size_t i = 1; i < n; i++) CHECK(strcmp(res[i - 1].room_id, res[i].room_id) < 0);
    win_results_free(res, n);
    win_state_destroy(w);
}

int main(void)
{
    test_basic();
    test_many();
    return CHECK_DONE();
}
