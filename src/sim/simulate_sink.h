/* simulate_sink.h — where `smarttech simulate` sends its events: a small interface
 * with four implementations (stdout JSON Lines, JSON Lines files, Kafka, MQTT).
 *
 * The simulate loop only knows sim_sink: write one event, tick now and then (a Kafka
 * sink serves delivery reports there), close at the end (flush, finish the last
 * file, free). A sink that fails reports through st_err; the loop stops and closes it.
 *
 * KAFKA HOOK: sink_kafka_open() lives alone in simulate_sink_kafka.c; today it
 * returns ST_ERR_UNSUPPORTED ("not available yet"). The Kafka work replaces that one
 * file with a real producer sink (key = sensor_id, value = the JSON, timestamp =
 * event time if wished) using sim_sink_opts.brokers/topic/props; cmd_simulate.c
 * already parses --brokers, --topic and -X and calls it.
 */
#ifndef ST_CLI_SIMULATE_SINK_H
#define ST_CLI_SIMULATE_SINK_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "kafka/kafka.h"
#include "sim/simulator.h"
#include "util/err.h"

typedef struct sim_sink sim_sink;

struct sim_sink {
    const char *name; /* "stdout", "files", "kafka": for messages */
    /* Sends one event (ev->value is the JSON, ev->key the sensor_id). */
    st_code (*write)(sim_sink *s, const iot_sim_event *ev, st_err *e);
    /* Called about every 1000 events, at least every 100 ms, and before the paced
     * loop sleeps (so buffered output goes out); may be NULL. */
    st_code (*tick)(sim_sink *s, st_err *e);
    /* Completes delivery (flush, rename the last file, wait for acknowledgements).
     * Called once, before destroy, unless an earlier call failed. */
    st_code (*close)(sim_sink *s, st_err *e);
    /* One line for the run summary ("3 files in out/", "delivered 1000"), may be NULL. */
    void (*describe)(sim_sink *s, char *buf, size_t len);
    /* Frees the sink (whatever state it is in). */
    void (*destroy)(sim_sink *s);
};

/* An output that went away on purpose (stdout reader closed the pipe) is reported by
 * write/close as ST_ERR_INTERRUPTED: the command stops quietly. */

/* Everything the command line says about the output. */
typedef struct sim_sink_opts {
    const char *files_dir;      /* --files DIR */
    int64_t events_per_file;    /* --events-per-file N (default 1000) */
    int fsync_files;            /* fsync each file before its rename (default 1) */
    const char *brokers;        /* --brokers LIST */
    const char *topic;          /* --topic NAME (default iot_smartech) */
    const kafka_props *props;   /* -X key=value (borrowed; may be NULL) */
    const char *mqtt;           /* --mqtt URL (MQTT sink) */
    int mqtt_qos;               /* --qos 0|1 (default 1) */
    const char *mqtt_cafile, *mqtt_cert, *mqtt_key; /* --mqtt-cafile, --mqtt-cert, --mqtt-key */
    volatile sig_atomic_t *stop;/* set by SIGINT/SIGTERM; a sink waiting on delivery may look at it */
} sim_sink_opts;

/* The defaults above; no output chosen (stdout). */
void sim_sink_opts_init(sim_sink_opts *o);

/* For a sink whose write waits (queue or window full): 1 once *stop has been set for longer than
 * the grace after Ctrl+C (5 s), so the event is counted as never sent and the run can end.
 * *stop_seen is the caller's per-event state, 0 at the start of each write. */
int sim_sink_stop_grace_over(const volatile sig_atomic_t *stop, int64_t *stop_seen);

/* A sink's close may wait (flush, acknowledgements): between begin and end, SIGINT/SIGTERM set
 * the returned flag (a second Ctrl+C: abandon what is left) instead of the simulate loop's. */
typedef struct sim_close_guard {
    struct sigaction old_int, old_term;
} sim_close_guard;
const volatile sig_atomic_t *sim_close_guard_begin(sim_close_guard *g);
void sim_close_guard_end(sim_close_guard *g);

/* JSON Lines on standard output, written in 64 KiB blocks. */
st_code sink_stdout_open(sim_sink **out, const sim_sink_opts *o, st_err *e);

/* JSON Lines files DIR/events-NNNNNN.json with events_per_file events each, each
 * written as DIR/.events-NNNNNN.json.tmp and renamed when complete (so a directory
 * watcher never sees a partial file). Numbering continues after the highest
 * events-NNNNNN.json already in DIR, so a second run never overwrites. */
st_code sink_files_open(sim_sink **out, const sim_sink_opts *o, st_err *e);

/* Kafka producer sink (see KAFKA HOOK above). */
st_code sink_kafka_open(sim_sink **out, const sim_sink_opts *o, st_err *e);

/* MQTT publisher sink (simulate_mqtt.c): each event on smarttech/<building>/<floor>/<room>/<sensor_id>
 * with QoS o->mqtt_qos; QoS 1 keeps at most 1000 unacknowledged messages and survives a broker
 * restart (libmosquitto sends them again); close waits for every acknowledgement. */
st_code sink_mqtt_open(sim_sink **out, const sim_sink_opts *o, st_err *e);

#endif
