/* metrics.h — a registry of counters, gauges and histograms, rendered in the Prometheus text
 * exposition format 0.0.4 (what `GET /metrics` of every job serves).
 *
 * A family is a metric name with its type, help text and label names; a series is one label
 * set of a family (a metric). The data path updates series through pointers it got once
 * (metric_family_series, which takes the registry's lock: never per record); an update is one
 * or two atomic operations and never takes a lock, so a scrape (which holds the lock while it
 * renders: microseconds) cannot slow the writers down. A rendering may see one update of a
 * histogram half applied (its sum not yet, or its bucket not yet): the count it prints is the
 * sum of the buckets it read, so _count and the +Inf bucket always agree.
 *
 * Conventions checked at registration (ST_ERR_ARG otherwise): names and label names match
 * [a-zA-Z_:][a-zA-Z0-9_:]* (label names without ':' and not starting with "__"), counters end
 * in _total, histograms have increasing finite bucket bounds in the metric's base unit (+Inf is
 * implicit) and no label "le". Values are doubles: counters of events stay exact to 2^53.
 *
 * Rendering: families in registration order, series in creation order; a family without any
 * series is left out. Label values are escaped (\\, \", \n), help texts too (\\, \n); numbers
 * print as the shortest decimal that reads back, +Inf/-Inf/NaN as Prometheus spells them.
 *
 * Collectors: functions the registry runs before every rendering (outside its lock), to set
 * gauges whose value is read from elsewhere (the /proc figures of metrics_add_process).
 *
 * Ownership: the registry owns its families and series; the pointers stay valid until
 * metrics_destroy. All functions are thread-safe.
 */
#ifndef ST_PIPELINE_METRICS_H
#define ST_PIPELINE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/err.h"

typedef enum metric_type { METRIC_COUNTER = 0, METRIC_GAUGE, METRIC_HISTOGRAM } metric_type;

typedef struct metrics metrics;
typedef struct metric_family metric_family;
typedef struct metric metric;

/* The content type of metrics_render's text. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

metrics *metrics_new(void);
void metrics_destroy(metrics *m); /* NULL-safe */

/* Registers a counter or gauge family (labels: nlabels names, copied). Registering a name
 * again with the same type and labels returns the same family; any other clash is ST_ERR_ARG.
 * A family without labels has its one series from the start (value 0). */
metric_family *metrics_family(metrics *m, metric_type type, const char *name, const char *help,
                              const char *const *labels, size_t nlabels, st_err *e);

/* Registers a histogram family with nbounds upper bounds (copied). */
metric_family *metrics_histogram(metrics *m, const char *name, const char *help, const char *const *labels,
                                 size_t nlabels, const double *bounds, size_t nbounds, st_err *e);

/* The series of f with these label values (one per label name, copied; NULL when the family
 * has no labels), created at 0 the first time. Takes the registry's lock: call it once and
 * keep the pointer. Never NULL. */
metric *metric_family_series(metric_family *f, const char *const *values);

/* The family's unlabelled series (f must have no labels). */
metric *metric_family_only(metric_family *f);

/* Updates (lock-free). Counters: add (v >= 0; a negative v is ignored). Gauges: set, add
 * (either sign). Histograms: observe v count times (count 0 does nothing). Calls that do
 * not fit the series' type are ignored. All accept NULL (a metric that was not set up). */
void metric_add(metric *s, double v);
void metric_set(metric *s, double v);
void metric_observe(metric *s, double v, uint64_t count);

/* Current value of a counter or gauge (0 for NULL); of a histogram: its sum. */
double metric_value(const metric *s);
/* A histogram's observation count (the sum of its buckets); 0 for other types and NULL. */
uint64_t metric_count(const metric *s);
/* A histogram's quantile q (0..1) estimated as Prometheus's histogram_quantile does (linear
 * within the bucket; the highest finite bound when it falls in +Inf); NAN when empty. */
double metric_quantile(const metric *s, double q);

/* A function run before every rendering (outside the registry's lock); at most 16 per registry
 * (later ones are not run). */
typedef void (*metrics_collect_fn)(void *ctx);
void metrics_add_collector(metrics *m, metrics_collect_fn fn, void *ctx);

/* The standard process_* metrics of this process, read from /proc at every rendering:
 * process_cpu_seconds_total, process_resident_memory_bytes, process_virtual_memory_bytes,
 * process_open_fds, process_max_fds, process_start_time_seconds. Idempotent. */
void metrics_add_process(metrics *m);

/* Appends the exposition text of every family to out (runs the collectors first). */
void metrics_render(metrics *m, st_buf *out);

/* The value of the series of family `name` with these label values (NULL: unlabelled), as
 * metric_value; ST_ERR_NOTFOUND when there is no such series. For progress lines and tests. */
st_code metrics_lookup(metrics *m, const char *name, const char *const *values, double *out, st_err *e);

/* Appends v as the exposition format writes numbers. */
void metrics_append_number(st_buf *out, double v);

#endif
