/* http_server.c — the HTTP server on libmicrohttpd (http.h). */
#include "http/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>

struct http_server {
    struct MHD_Daemon *d;
    http_handler_fn fn;
    void *ctx;
    int port;
};

struct http_request {
    struct MHD_Connection *c;
    const char *method;
    const char *path;
};

void http_options_init(http_options *o)
{
    memset(o, 0, sizeof *o);
    o->listen = "127.0.0.1:0";
    o->max_connections = 2048;
    o->timeout_s = 10;
    o->max_request_bytes = 16 * 1024;
    o->threads = 2;
}

st_code http_parse_listen(const char *listen, char *host, size_t hostn, int *port, st_err *e)
{
    static const char forms[] = "use HOST:PORT, :PORT or PORT with a numeric host (127.0.0.1, 0.0.0.0, [::1]) "
                                "or localhost";
    if (!listen || !*listen) return st_err_set(e, ST_ERR_ARG, "empty listen address: %s", forms);
    const char *colon = strrchr(listen, ':');
    const char *ps = colon ? colon + 1 : listen;
    char h[128] = "";
    if (colon) {
        size_t hl = (size_t)(colon - listen);
        if (hl >= sizeof h) return st_err_set(e, ST_ERR_ARG, "listen address '%s' is too long", listen);
        memcpy(h, listen, hl);
        h[hl] = 0;
        if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
            memmove(h, h + 1, hl - 2);
            h[hl - 2] = 0;
        } else if (strchr(h, ':')) {
            return st_err_set(e, ST_ERR_ARG, "listen address '%s': an IPv6 host goes in brackets ([::1]:9100)", listen);
        }
    }
    char *end;
    long p = strtol(ps, &end, 10);
    if (!*ps || *end || p < 0 || p > 65535)
        return st_err_set(e, ST_ERR_ARG, "listen address '%s': bad port '%s' (0..65535): %s", listen, ps, forms);
    if (!h[0] || !strcasecmp(h, "localhost")) snprintf(h, sizeof h, "127.0.0.1");
    unsigned char a[16];
    if (inet_pton(AF_INET, h, a) != 1 && inet_pton(AF_INET6, h, a) != 1)
        return st_err_set(e, ST_ERR_ARG, "listen address '%s': '%s' is not a numeric address: %s", listen, h, forms);
    if (strlen(h) >= hostn) return st_err_set(e, ST_ERR_ARG, "listen address '%s' is too long", listen);
    snprintf(host, hostn, "%s", h);
    *port = (int)p;
    return ST_OK;
}

int http_host_is_loopback(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, host, &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1) return IN6_IS_ADDR_LOOPBACK(&a6);
    return 0;
}

/* The library's own messages (a client that sent garbage, a connection reset) are not ours to
 * print: a hostile client could fill the job's log with them. */
static void quiet_logger(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    (void)fmt;
    (void)ap;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Decodes %HH in paths and query arguments in place, as the library's own unescaper does, except
 * %00: a NUL would cut the C string a handler sees ("/%00x" would look like "/"), so it stays as
 * the three characters and matches no route. */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    char *w = s;
    for (const char *r = s; *r;) {
        int hi, lo;
        if (r[0] == '%' && (hi = hexval(r[1])) >= 0 && (lo = hexval(r[2])) >= 0 && (hi || lo)) {
            *w++ = (char)(hi * 16 + lo);
            r += 3;
        } else {
            *w++ = *r++;
        }
    }
    *w = 0;
    return (size_t)(w - s);
}

static enum MHD_Result queue(struct MHD_Connection *c, http_response *r, int head_allow)
{
    size_t len = r->body.len;
    void *data = st_buf_detach(&r->body, &len);
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(data);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", r->content_type ? r->content_type : "text/plain; charset=utf-8");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (head_allow) MHD_add_response_header(resp, "Allow", "GET, HEAD");
    for (int i = 0; i < 8 && r->headers[i][0]; i++) MHD_add_response_header(resp, r->headers[i][0], r->headers[i][1]);
    enum MHD_Result rc = MHD_queue_response(c, (unsigned)(r->status ? r->status : 200), resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **req_cls)
{
    (void)version;
    (void)upload_data;
    http_server *s = cls;
    /* answered on the first call (headers complete): a body is never read, the library closes
     * the connection after the response when one was sent */
    (void)req_cls;
    (void)upload_data_size;
    http_response r;
    memset(&r, 0, sizeof r);
    if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
        http_response_text(&r, 405, "method %s not allowed: this server is read-only (GET, HEAD)\n",
                           strlen(method) < 32 ? method : "(long)");
        return queue(c, &r, 1);
    }
    http_request req = {c, method, url};
    s->fn(s->ctx, &req, &r);
    return queue(c, &r, r.status == 405);
}

st_code http_server_start(const http_options *o, http_handler_fn fn, void *ctx, http_server **out, st_err *e)
{
    http_options def;
    if (!o) {
        http_options_init(&def);
        o = &def;
    }
    *out = NULL;
    char host[128];
    int port;
    st_code rc = http_parse_listen(o->listen, host, sizeof host, &port, e);
    if (rc) return rc;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;
    if (strchr(host, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        inet_pton(AF_INET6, host, &a->sin6_addr);
        flags |= MHD_USE_IPv6;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        inet_pton(AF_INET, host, &a->sin_addr);
    }
    /* every connection is a descriptor: make sure max_connections of them fit beside the job's
     * own files and sockets (the soft limit is often 1024) */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max &&
        rl.rlim_cur < (rlim_t)o->max_connections + 1024) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    http_server *s = st_xcalloc(1, sizeof *s);
    s->fn = fn;
    s->ctx = ctx;
    unsigned threads = o->threads ? o->threads : 1;
    unsigned maxc = o->max_connections ? o->max_connections : 2048;
    if (maxc < threads) maxc = threads;
    size_t mem = (o->max_request_bytes ? o->max_request_bytes : 16 * 1024) + 16 * 1024; /* + response headers */
    s->d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, s,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                            MHD_OPTION_THREAD_POOL_SIZE, threads,
                            MHD_OPTION_CONNECTION_LIMIT, maxc,
                            MHD_OPTION_CONNECTION_TIMEOUT, o->timeout_s ? o->timeout_s : 10,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, mem,
                            MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024,
                            MHD_OPTION_EXTERNAL_LOGGER, quiet_logger, NULL,
                            MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
                            MHD_OPTION_END);
    if (!s->d) {
        int err = errno;
        free(s);
        return st_err_set(e, ST_ERR_IO, "cannot listen on %s: %s (is the port in use, or the address not one of this "
                                        "machine's?)",
                          o->listen, err ? strerror(err) : "libmicrohttpd refused to start");
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? (int)di->port : port;
    *out = s;
    return ST_OK;
}

int http_server_port(const http_server *s)
{
    return s ? s->port : -1;
}

void http_server_stop(http_server *s)
{
    if (!s) return;
    MHD_stop_daemon(s->d);
    free(s);
}

const char *http_request_method(const http_request *r)
{
    return r->method;
}

const char *http_request_path(const http_request *r)
{
    return r->path;
}

const char *http_request_arg(const http_request *r, const char *name)
{
    return MHD_lookup_connection_value(r->c, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_request_header(const http_request *r, const char *name)
{
    return MHD_lookup_connection_value(r->c, MHD_HEADER_KIND, name);
}

void http_response_text(http_response *resp, int status, const char *fmt, ...)
{
    resp->status = status;
    resp->content_type = "text/plain; charset=utf-8";
    st_buf_reset(&resp->body);
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    st_buf_append_str(&resp->body, tmp);
}
