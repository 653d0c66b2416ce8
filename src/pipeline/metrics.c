/* metrics.c — the metrics registry and its Prometheus text rendering (metrics.h). */
#include "pipeline/metrics.h"

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "iot/event.h"

struct metric {
    metric_family *f;
    char **values;                /* one per label name */
    _Atomic uint64_t bits;        /* counter/gauge value, histogram sum: a double's bits */
    _Atomic uint64_t *buckets;    /* histogram: nbounds + 1 counts (not cumulative; last = +Inf) */
    metric *next;
};

struct metric_family {
    metric_type type;
    char *name, *help;
    char **labels;
    size_t nlabels;
    double *bounds;
    size_t nbounds;
    metric *first, *last;
    metric_family *next;
    metrics *m;
};

typedef struct collector {
    metrics_collect_fn fn;
    void *ctx;
    struct collector *next;
} collector;

typedef struct proc_series {
    metric *cpu, *rss, *vsize, *fds, *max_fds, *start;
} proc_series;

struct metrics {
    pthread_mutex_t mu;
    metric_family *first, *last;
    collector *collectors;
    proc_series *proc;
};

static uint64_t to_bits(double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return b;
}

static double from_bits(uint64_t b)
{
    double v;
    memcpy(&v, &b, sizeof v);
    return v;
}

/* Adds to a double held as bits: a compare-and-swap loop (one round when uncontended). */
static void atomic_add_double(_Atomic uint64_t *a, double v)
{
    uint64_t old = atomic_load_explicit(a, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(a, &old, to_bits(from_bits(old) + v), memory_order_relaxed,
                                                  memory_order_relaxed)) {
    }
}

metrics *metrics_new(void)
{
    metrics *m = st_xcalloc(1, sizeof *m);
    pthread_mutex_init(&m->mu, NULL);
    return m;
}

static void free_strs(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) free(v[i]);
    free(v);
}

void metrics_destroy(metrics *m)
{
    if (!m) return;
    for (metric_family *f = m->first, *fn; f; f = fn) {
        fn = f->next;
        for (metric *s = f->first, *sn; s; s = sn) {
            sn = s->next;
            free_strs(s->values, f->nlabels);
            free((void *)s->buckets);
            free(s);
        }
        free(f->name);
        free(f->help);
        free_strs(f->labels, f->nlabels);
        free(f->bounds);
        free(f);
    }
    for (collector *c = m->collectors, *cn; c; c = cn) {
        cn = c->next;
        free(c);
    }
    free(m->proc);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

static int name_ok(const char *s, int label)
{
    if (!s || !*s) return 0;
    if (label && s[0] == '_' && s[1] == '_') return 0;
    for (const char *p = s; *p; p++) {
        int alpha = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' || (!label && *p == ':');
        if (!alpha && (p == s || *p < '0' || *p > '9')) return 0;
    }
    return 1;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

static const char *type_name(metric_type t)
{
    return t == METRIC_COUNTER ? "counter" : t == METRIC_GAUGE ? "gauge" : "histogram";
}

static metric *series_new(metric_family *f, const char *const *values)
{
    metric *s = st_xcalloc(1, sizeof *s);
    s->f = f;
    if (f->nlabels) {
        s->values = st_xcalloc(f->nlabels, sizeof *s->values);
        for (size_t i = 0; i < f->nlabels; i++) s->values[i] = st_xstrdup(values && values[i] ? values[i] : "");
    }
    if (f->type == METRIC_HISTOGRAM) s->buckets = st_xcalloc(f->nbounds + 1, sizeof *s->buckets);
    if (f->last)
        f->last->next = s;
    else
        f->first = s;
    f->last = s;
    return s;
}

static metric_family *family_add(metrics *m, metric_type type, const char *name, const char *help,
                                 const char *const *labels, size_t nlabels, const double *bounds, size_t nbounds,
                                 st_err *e)
{
    if (!name_ok(name, 0)) {
        st_err_set(e, ST_ERR_ARG, "metric name '%s' is not [a-zA-Z_:][a-zA-Z0-9_:]*", name ? name : "");
        return NULL;
    }
    if (type == METRIC_COUNTER && !ends_with(name, "_total")) {
        st_err_set(e, ST_ERR_ARG, "counter '%s' must end in _total", name);
        return NULL;
    }
    for (size_t i = 0; i < nlabels; i++) {
        if (!name_ok(labels[i], 1) || (type == METRIC_HISTOGRAM && !strcmp(labels[i], "le"))) {
            st_err_set(e, ST_ERR_ARG, "metric %s: bad label name '%s'", name, labels[i] ? labels[i] : "");
            return NULL;
        }
    }
    for (size_t i = 0; i < nbounds; i++) {
        if (!isfinite(bounds[i]) || (i && bounds[i] <= bounds[i - 1])) {
            st_err_set(e, ST_ERR_ARG, "histogram %s: bucket bounds must be finite and increasing", name);
            return NULL;
        }
    }
    pthread_mutex_lock(&m->mu);
    for (metric_family *f = m->first; f; f = f->next) {
        if (strcmp(f->name, name)) continue;
        int same = f->type == type && f->nlabels == nlabels && f->nbounds == nbounds;
        for (size_t i = 0; same && i < nlabels; i++) same = !strcmp(f->labels[i], labels[i]);
        for (size_t i = 0; same && i < nbounds; i++) same = f->bounds[i] == bounds[i];
        pthread_mutex_unlock(&m->mu);
        if (same) return f;
        st_err_set(e, ST_ERR_ARG, "metric %s is already registered with another type, labels or buckets", name);
        return NULL;
    }
    metric_family *f = st_xcalloc(1, sizeof *f);
    f->m = m;
    f->type = type;
    f->name = st_xstrdup(name);
    f->help = st_xstrdup(help ? help : "");
    f->nlabels = nlabels;
    if (nlabels) {
        f->labels = st_xcalloc(nlabels, sizeof *f->labels);
        for (size_t i = 0; i < nlabels; i++) f->labels[i] = st_xstrdup(labels[i]);
    }
    f->nbounds = nbounds;
    if (nbounds) {
        f->bounds = st_xmalloc(nbounds * sizeof *f->bounds);
        memcpy(f->bounds, bounds, nbounds * sizeof *f->bounds);
    }
    if (!nlabels) series_new(f, NULL);
    if (m->last)
        m->last->next = f;
    else
        m->first = f;
    m->last = f;
    pthread_mutex_unlock(&m->mu);
    return f;
}

metric_family *metrics_family(metrics *m, metric_type type, const char *name, const char *help,
                              const char *const *labels, size_t nlabels, st_err *e)
{
    if (type == METRIC_HISTOGRAM) {
        st_err_set(e, ST_ERR_ARG, "metric %s: histograms are registered with metrics_histogram", name);
        return NULL;
    }
    return family_add(m, type, name, help, labels, nlabels, NULL, 0, e);
}

metric_family *metrics_histogram(metrics *m, const char *name, const char *help, const char *const *labels,
                                 size_t nlabels, const double *bounds, size_t nbounds, st_err *e)
{
    return family_add(m, METRIC_HISTOGRAM, name, help, labels, nlabels, bounds, nbounds, e);
}

static metric *series_find(metric_family *f, const char *const *values)
{
    for (metric *s = f->first; s; s = s->next) {
        size_t i = 0;
        while (i < f->nlabels && !strcmp(s->values[i], values && values[i] ? values[i] : "")) i++;
        if (i == f->nlabels) return s;
    }
    return NULL;
}

metric *metric_family_series(metric_family *f, const char *const *values)
{
    pthread_mutex_lock(&f->m->mu);
    metric *s = series_find(f, values);
    if (!s) s = series_new(f, values);
    pthread_mutex_unlock(&f->m->mu);
    return s;
}

metric *metric_family_only(metric_family *f)
{
    return f ? f->first : NULL;
}

void metric_add(metric *s, double v)
{
    if (!s || s->f->type == METRIC_HISTOGRAM || (s->f->type == METRIC_COUNTER && !(v >= 0))) return;
    atomic_add_double(&s->bits, v);
}

void metric_set(metric *s, double v)
{
    if (!s || s->f->type != METRIC_GAUGE) return;
    atomic_store_explicit(&s->bits, to_bits(v), memory_order_relaxed);
}

/* Bucket of v: the first bound >= v (Prometheus buckets are upper-inclusive), else +Inf. */
static size_t bucket_of(const metric_family *f, double v)
{
    size_t lo = 0, hi = f->nbounds;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (f->bounds[mid] >= v)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

void metric_observe(metric *s, double v, uint64_t count)
{
    if (!s || s->f->type != METRIC_HISTOGRAM || !count) return;
    atomic_fetch_add_explicit(&s->buckets[bucket_of(s->f, v)], count, memory_order_relaxed);
    atomic_add_double(&s->bits, v * (double)count);
}

double metric_value(const metric *s)
{
    return s ? from_bits(atomic_load_explicit(&((metric *)s)->bits, memory_order_relaxed)) : 0;
}

/* Reads a histogram's buckets once (counts[nbounds + 1]); returns their total. */
static uint64_t read_buckets(const metric *s, uint64_t *counts)
{
    uint64_t total = 0;
    for (size_t i = 0; i <= s->f->nbounds; i++) {
        counts[i] = atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
        total += counts[i];
    }
    return total;
}

uint64_t metric_count(const metric *s)
{
    if (!s || s->f->type != METRIC_HISTOGRAM) return 0;
    uint64_t total = 0;
    for (size_t i = 0; i <= s->f->nbounds; i++) total += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
    return total;
}

double metric_quantile(const metric *s, double q)
{
    if (!s || s->f->type != METRIC_HISTOGRAM) return NAN;
    const metric_family *f = s->f;
    uint64_t *c = st_xmalloc((f->nbounds + 1) * sizeof *c);
    uint64_t total = read_buckets(s, c);
    double out = NAN;
    if (total) {
        double rank = (q < 0 ? 0 : q > 1 ? 1 : q) * (double)total;
        uint64_t cum = 0;
        for (size_t i = 0; i <= f->nbounds; i++) {
            if (!c[i] || (double)(cum + c[i]) < rank) {
                cum += c[i];
                continue;
            }
            if (i == f->nbounds) {
                out = f->nbounds ? f->bounds[f->nbounds - 1] : NAN;
            } else {
                double lo = i ? f->bounds[i - 1] : (f->bounds[0] > 0 ? 0 : f->bounds[0]);
                out = lo + (f->bounds[i] - lo) * (rank - (double)cum) / (double)c[i];
            }
            break;
        }
    }
    free(c);
    return out;
}

void metrics_add_collector(metrics *m, metrics_collect_fn fn, void *ctx)
{
    collector *c = st_xcalloc(1, sizeof *c);
    c->fn = fn;
    c->ctx = ctx;
    pthread_mutex_lock(&m->mu);
    collector **p = &m->collectors;
    while (*p) p = &(*p)->next;
    *p = c;
    pthread_mutex_unlock(&m->mu);
}

/* ------------------------------------------------------------------ process metrics */

/* /proc/self/stat fields after the command name: the (1-based) field numbers of proc(5). */
static int read_proc_stat(double *cpu_s, double *start_ticks, double *vsize, double *rss_pages)
{
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
    if (!p) return -1;
    p++;
    double field[25] = {0};
    for (int i = 3; i <= 24; i++) {
        while (*p == ' ') p++;
        if (!*p) return -1;
        char *end;
        field[i] = strtod(p, &end);
        if (end == p) { /* the state letter (field 3) */
            while (*p && *p != ' ') p++;
        } else {
            p = end;
        }
    }
    double hz = (double)sysconf(_SC_CLK_TCK);
    *cpu_s = (field[14] + field[15]) / hz;
    *start_ticks = field[22] / hz;
    *vsize = field[23];
    *rss_pages = field[24];
    return 0;
}

static double boot_time_s(void)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return 0;
    char line[256];
    double bt = 0;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "btime ", 6)) {
            bt = strtod(line + 6, NULL);
            break;
        }
    fclose(f);
    return bt;
}

static double open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d) return 0;
    double n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.') n++;
    closedir(d);
    return n - 1; /* the directory stream's own descriptor */
}

static void collect_process(void *ctx)
{
    proc_series *p = ctx;
    double cpu, start, vsize, rss;
    if (read_proc_stat(&cpu, &start, &vsize, &rss) == 0) {
        /* a counter only goes up: set it through its bits (metric_set is for gauges) */
        atomic_store_explicit(&p->cpu->bits, to_bits(cpu), memory_order_relaxed);
        metric_set(p->vsize, vsize);
        metric_set(p->rss, rss * (double)sysconf(_SC_PAGESIZE));
        metric_set(p->start, boot_time_s() + start);
    }
    metric_set(p->fds, open_fds());
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) metric_set(p->max_fds, rl.rlim_cur == RLIM_INFINITY ? INFINITY : (double)rl.rlim_cur);
}

void metrics_add_process(metrics *m)
{
    pthread_mutex_lock(&m->mu);
    int have = m->proc != NULL;
    if (!have) m->proc = st_xcalloc(1, sizeof *m->proc);
    pthread_mutex_unlock(&m->mu);
    if (have) return;
    proc_series *p = m->proc;
    p->cpu = metric_family_only(metrics_family(m, METRIC_COUNTER, "process_cpu_seconds_total",
                                               "Total user and system CPU time spent in seconds.", NULL, 0, NULL));
    p->rss = metric_family_only(metrics_family(m, METRIC_GAUGE, "process_resident_memory_bytes",
                                               "Resident memory size in bytes.", NULL, 0, NULL));
    p->vsize = metric_family_only(metrics_family(m, METRIC_GAUGE, "process_virtual_memory_bytes",
                                                 "Virtual memory size in bytes.", NULL, 0, NULL));
    p->fds = metric_family_only(
        metrics_family(m, METRIC_GAUGE, "process_open_fds", "Number of open file descriptors.", NULL, 0, NULL));
    p->max_fds = metric_family_only(metrics_family(m, METRIC_GAUGE, "process_max_fds",
                                                   "Maximum number of open file descriptors.", NULL, 0, NULL));
    p->start = metric_family_only(metrics_family(m, METRIC_GAUGE, "process_start_time_seconds",
                                                 "Start time of the process since unix epoch in seconds.", NULL, 0,
                                                 NULL));
    metrics_add_collector(m, collect_process, p);
}

/* ------------------------------------------------------------------ rendering */

void metrics_append_number(st_buf *out, double v)
{
    if (isnan(v)) {
        st_buf_append_str(out, "NaN");
    } else if (isinf(v)) {
        st_buf_append_str(out, v > 0 ? "+Inf" : "-Inf");
    } else if (v == floor(v) && fabs(v) < 1e15) {
        st_buf_printf(out, "%.0f", v == 0 ? 0.0 : v); /* integers as integers, and no "-0" */
    } else {
        iot_append_double(out, v);
    }
}

/* help: backslash and newline escaped; label values also the double quote. */
static void append_escaped(st_buf *out, const char *s, int quote)
{
    for (; *s; s++) {
        if (*s == '\\')
            st_buf_append_str(out, "\\\\");
        else if (*s == '\n')
            st_buf_append_str(out, "\\n");
        else if (quote && *s == '"')
            st_buf_append_str(out, "\\\"");
        else
            st_buf_append_u8(out, (uint8_t)*s);
    }
}

/* {a="x",b="y"} with an optional extra le label; nothing when there are no labels. */
static void append_labels(st_buf *out, const metric_family *f, const metric *s, const double *le)
{
    if (!f->nlabels && !le) return;
    st_buf_append_u8(out, '{');
    for (size_t i = 0; i < f->nlabels; i++) {
        if (i) st_buf_append_u8(out, ',');
        st_buf_append_str(out, f->labels[i]);
        st_buf_append_str(out, "=\"");
        append_escaped(out, s->values[i], 1);
        st_buf_append_u8(out, '"');
    }
    if (le) {
        if (f->nlabels) st_buf_append_u8(out, ',');
        st_buf_append_str(out, "le=\"");
        metrics_append_number(out, *le);
        st_buf_append_u8(out, '"');
    }
    st_buf_append_u8(out, '}');
}

static void render_series(st_buf *out, const metric_family *f, const metric *s, uint64_t *counts)
{
    if (f->type != METRIC_HISTOGRAM) {
        st_buf_append_str(out, f->name);
        append_labels(out, f, s, NULL);
        st_buf_append_u8(out, ' ');
        metrics_append_number(out, metric_value(s));
        st_buf_append_u8(out, '\n');
        return;
    }
    /* read the buckets once: the cumulative counts, +Inf and _count are then one consistent view */
    uint64_t total = read_buckets(s, counts), cum = 0;
    for (size_t i = 0; i <= f->nbounds; i++) {
        cum += counts[i];
        double le = i < f->nbounds ? f->bounds[i] : INFINITY;
        st_buf_append_str(out, f->name);
        st_buf_append_str(out, "_bucket");
        append_labels(out, f, s, &le);
        st_buf_printf(out, " %llu\n", (unsigned long long)cum);
    }
    st_buf_append_str(out, f->name);
    st_buf_append_str(out, "_sum");
    append_labels(out, f, s, NULL);
    st_buf_append_u8(out, ' ');
    metrics_append_number(out, metric_value(s));
    st_buf_append_u8(out, '\n');
    st_buf_append_str(out, f->name);
    st_buf_append_str(out, "_count");
    append_labels(out, f, s, NULL);
    st_buf_printf(out, " %llu\n", (unsigned long long)total);
}

void metrics_render(metrics *m, st_buf *out)
{
    /* collectors set gauges through pointers they hold: they run outside the registry lock (and
     * may register series of their own); the list is copied under it, as one may be added now */
    collector *cs[16];
    size_t nc = 0;
    pthread_mutex_lock(&m->mu);
    for (collector *c = m->collectors; c && nc < 16; c = c->next) cs[nc++] = c;
    pthread_mutex_unlock(&m->mu);
    for (size_t i = 0; i < nc; i++) cs[i]->fn(cs[i]->ctx);
    pthread_mutex_lock(&m->mu);
    size_t maxb = 0;
    for (metric_family *f = m->first; f; f = f->next)
        if (f->nbounds + 1 > maxb) maxb = f->nbounds + 1;
    uint64_t *counts = st_xmalloc((maxb ? maxb : 1) * sizeof *counts);
    for (metric_family *f = m->first; f; f = f->next) {
        if (!f->first) continue;
        st_buf_append_str(out, "# HELP ");
        st_buf_append_str(out, f->name);
        st_buf_append_u8(out, ' ');
        append_escaped(out, f->help, 0);
        st_buf_printf(out, "\n# TYPE %s %s\n", f->name, type_name(f->type));
        for (metric *s = f->first; s; s = s->next) render_series(out, f, s, counts);
    }
    pthread_mutex_unlock(&m->mu);
    free(counts);
}

st_code metrics_lookup(metrics *m, const char *name, const char *const *values, double *out, st_err *e)
{
    pthread_mutex_lock(&m->mu);
    metric *s = NULL;
    for (metric_family *f = m->first; f && !s; f = f->next)
        if (!strcmp(f->name, name)) s = series_find(f, values);
    pthread_mutex_unlock(&m->mu);
    if (!s) return st_err_set(e, ST_ERR_NOTFOUND, "no metric %s with these labels", name);
    *out = metric_value(s);
    return ST_OK;
}
