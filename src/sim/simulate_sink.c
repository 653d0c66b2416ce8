/* simulate_sink.c — the stdout and files sinks of `smarttech simulate`. */
#include "sim/simulate_sink.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/fsutil.h"
#include "util/timeutil.h"

#define OUT_BLOCK 65536

/* Writes all of p[0..n) to fd, retrying short writes and EINTR. */
static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

#define STOP_GRACE_US 5000000

int sim_sink_stop_grace_over(const volatile sig_atomic_t *stop, int64_t *stop_seen)
{
    if (!stop || !*stop) return 0;
    int64_t now = st_monotonic_us();
    if (!*stop_seen) *stop_seen = now;
    return now - *stop_seen >= STOP_GRACE_US;
}

static volatile sig_atomic_t close_abort;

static void on_close_signal(int sig)
{
    (void)sig;
    close_abort = 1;
}

const volatile sig_atomic_t *sim_close_guard_begin(sim_close_guard *g)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_close_signal;
    close_abort = 0;
    sigaction(SIGINT, &sa, &g->old_int);
    sigaction(SIGTERM, &sa, &g->old_term);
    return &close_abort;
}

void sim_close_guard_end(sim_close_guard *g)
{
    sigaction(SIGINT, &g->old_int, NULL);
    sigaction(SIGTERM, &g->old_term, NULL);
}

/* ------------------------------------------------------------------ stdout */

typedef struct stdout_sink {
    sim_sink base;
    st_buf buf;
    uint64_t lines;
} stdout_sink;

static st_code stdout_flush(stdout_sink *s, st_err *e)
{
    if (s->buf.len && write_all(1, s->buf.data, s->buf.len)) {
        int err = errno;
        st_buf_reset(&s->buf);
        return st_err_set(e, err == EPIPE ? ST_ERR_INTERRUPTED : ST_ERR_IO, "cannot write to standard output: %s",
                          strerror(err));
    }
    st_buf_reset(&s->buf);
    return ST_OK;
}

static st_code stdout_write(sim_sink *base, const iot_sim_event *ev, st_err *e)
{
    stdout_sink *s = (stdout_sink *)base;
    st_buf_append(&s->buf, ev->value.ptr, ev->value.len);
    st_buf_append_u8(&s->buf, '\n');
    s->lines++;
    return s->buf.len >= OUT_BLOCK ? stdout_flush(s, e) : ST_OK;
}

/* Paced runs: hand lines to the reader before sleeping instead of holding 64 KiB. */
static st_code stdout_tick(sim_sink *base, st_err *e)
{
    return stdout_flush((stdout_sink *)base, e);
}

static st_code stdout_close(sim_sink *base, st_err *e)
{
    return stdout_flush((stdout_sink *)base, e);
}

static void stdout_destroy(sim_sink *base)
{
    stdout_sink *s = (stdout_sink *)base;
    st_buf_free(&s->buf);
    free(s);
}

static void stdout_describe(sim_sink *base, char *buf, size_t len)
{
    snprintf(buf, len, "%llu lines to standard output", (unsigned long long)((stdout_sink *)base)->lines);
}

void sim_sink_opts_init(sim_sink_opts *o)
{
    memset(o, 0, sizeof *o);
    o->events_per_file = 1000;
    o->fsync_files = 1;
    o->topic = "iot_smartech";
    o->mqtt_qos = 1;
}

st_code sink_stdout_open(sim_sink **out, const sim_sink_opts *o, st_err *e)
{
    (void)o;
    (void)e;
    stdout_sink *s = st_xcalloc(1, sizeof *s);
    s->base = (sim_sink){"stdout", stdout_write, stdout_tick, stdout_close, stdout_describe, stdout_destroy};
    *out = &s->base;
    return ST_OK;
}

/* ------------------------------------------------------------------- files */

typedef struct files_sink {
    sim_sink base;
    char *dir;
    int64_t per_file;
    int do_fsync;
    long next_index;  /* number of the file being filled */
    long in_file;     /* events in it so far */
    int fd;           /* open temp file or -1 */
    char tmp_path[4096], final_path[4096];
    st_buf buf;
    long files_done;
    long first_index;
} files_sink;

/* Highest NNNNNN among DIR/events-NNNNNN.json (0 when none). O(directory entries). */
static long highest_index(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    long best = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        long n;
        char tail[8];
        if (sscanf(de->d_name, "events-%ld.%7s", &n, tail) == 2 && !strcmp(tail, "json") && n > best) best = n;
    }
    closedir(d);
    return best;
}

static st_code files_open_next(files_sink *s, st_err *e)
{
    snprintf(s->final_path, sizeof s->final_path, "%s/events-%06ld.json", s->dir, s->next_index);
    snprintf(s->tmp_path, sizeof s->tmp_path, "%s/.events-%06ld.json.tmp", s->dir, s->next_index);
    s->fd = open(s->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (s->fd < 0) return st_err_set(e, ST_ERR_IO, "cannot create %s: %s", s->tmp_path, strerror(errno));
    s->in_file = 0;
    return ST_OK;
}

/* Writes the buffered lines, fsyncs, and renames the temp file to its final name.
 * The final name is checked first: an existing file is never replaced. */
static st_code files_finish(files_sink *s, st_err *e)
{
    if (s->fd < 0) return ST_OK;
    st_code rc = ST_OK;
    if (write_all(s->fd, s->buf.data, s->buf.len)) {
        rc = st_err_set(e, ST_ERR_IO, "cannot write %s: %s", s->tmp_path, strerror(errno));
    } else if (s->do_fsync && fsync(s->fd)) {
        rc = st_err_set(e, ST_ERR_IO, "cannot fsync %s: %s", s->tmp_path, strerror(errno));
    }
    st_buf_reset(&s->buf);
    close(s->fd);
    s->fd = -1;
    if (rc) return rc;
    if (link(s->tmp_path, s->final_path)) { /* link: fails instead of replacing */
        rc = st_err_set(e, ST_ERR_IO, "cannot rename %s to %s: %s", s->tmp_path, s->final_path, strerror(errno));
        unlink(s->tmp_path);
        return rc;
    }
    unlink(s->tmp_path);
    s->files_done++;
    s->next_index++;
    return ST_OK;
}

static st_code files_write(sim_sink *base, const iot_sim_event *ev, st_err *e)
{
    files_sink *s = (files_sink *)base;
    st_code rc;
    if (s->fd < 0 && (rc = files_open_next(s, e))) return rc;
    st_buf_append(&s->buf, ev->value.ptr, ev->value.len);
    st_buf_append_u8(&s->buf, '\n');
    s->in_file++;
    if (s->in_file >= s->per_file) return files_finish(s, e);
    if (s->buf.len >= OUT_BLOCK) {
        if (write_all(s->fd, s->buf.data, s->buf.len))
            return st_err_set(e, ST_ERR_IO, "cannot write %s: %s", s->tmp_path, strerror(errno));
        st_buf_reset(&s->buf);
    }
    return ST_OK;
}

static st_code files_close(sim_sink *base, st_err *e)
{
    return files_finish((files_sink *)base, e);
}

/* Frees the sink; a file still open (after an error) is left as its temp name only. */
static void files_destroy(sim_sink *base)
{
    files_sink *s = (files_sink *)base;
    if (s->fd >= 0) {
        close(s->fd);
        unlink(s->tmp_path);
    }
    st_buf_free(&s->buf);
    free(s->dir);
    free(s);
}

static void files_describe(sim_sink *base, char *buf, size_t len)
{
    files_sink *s = (files_sink *)base;
    if (s->files_done)
        snprintf(buf, len, "%ld files in %s (events-%06ld.json to events-%06ld.json)", s->files_done, s->dir,
                 s->first_index, s->next_index - 1);
    else
        snprintf(buf, len, "no file written in %s", s->dir);
}

st_code sink_files_open(sim_sink **out, const sim_sink_opts *o, st_err *e)
{
    *out = NULL;
    if (o->events_per_file < 1) return st_err_set(e, ST_ERR_ARG, "--events-per-file must be at least 1");
    st_code rc = st_mkdirs(o->files_dir, e);
    if (rc) return rc;
    files_sink *s = st_xcalloc(1, sizeof *s);
    s->base = (sim_sink){"files", files_write, NULL, files_close, files_describe, files_destroy};
    s->dir = st_xstrdup(o->files_dir);
    s->per_file = o->events_per_file;
    s->do_fsync = o->fsync_files;
    s->fd = -1;
    s->next_index = s->first_index = highest_index(o->files_dir) + 1;
    *out = &s->base;
    return ST_OK;
}
