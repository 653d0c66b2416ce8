/* http.h — the embedded HTTP server of the long-running commands (metrics, health, dashboard),
 * on GNU libmicrohttpd. This folder is the only place that calls it.
 *
 * What the server guarantees, whatever the handler does:
 *   - it runs on its own threads (an epoll loop with a small thread pool): a request never runs
 *     on the caller's (data path's) thread, and a slow or dead client only holds its connection;
 *   - bounded: at most max_connections at once (later ones are refused at accept), an idle
 *     connection is closed after timeout_s, a request's headers and URL must fit in
 *     max_request_bytes (libmicrohttpd answers 431/414 otherwise), request bodies are refused;
 *   - only GET and HEAD reach the handler: any other method is 405 (with Allow: GET, HEAD);
 *     HEAD answers the GET's headers without the body;
 *   - the handler sees the path and query arguments percent-decoded (%00 is left as it is: a NUL
 *     would cut the string); nothing
 *     here maps a path to a file: handlers answer from memory (static assets are compiled in);
 *   - every response has X-Content-Type-Options: nosniff and Cache-Control: no-store.
 *
 * Ownership: the handler's context is borrowed until http_server_stop returns; a response's
 * body is copied (or moved) into the library before the handler returns.
 */
#ifndef ST_HTTP_HTTP_H
#define ST_HTTP_HTTP_H

#include <stddef.h>

#include "util/buf.h"
#include "util/err.h"

typedef struct http_server http_server;
typedef struct http_request http_request;

typedef struct http_response {
    int status;                  /* default 200 */
    const char *content_type;    /* static string; default "text/plain; charset=utf-8" */
    st_buf body;                 /* the handler appends; the server frees it */
    const char *headers[8][2];   /* extra headers (static strings or strings living as long as the
                                    server), name/value pairs, NULL-terminated */
} http_response;

/* Called on a server thread for each GET/HEAD request; several may run at once. */
typedef void (*http_handler_fn)(void *ctx, const http_request *req, http_response *resp);

typedef struct http_options {
    const char *listen;          /* "HOST:PORT", ":PORT" or "PORT" (host 127.0.0.1); port 0 = any */
    unsigned max_connections;    /* default 2048 */
    unsigned timeout_s;          /* idle connection timeout, default 10 s */
    size_t max_request_bytes;    /* request line + headers, default 16 KiB */
    unsigned threads;            /* default 2 */
} http_options;

void http_options_init(http_options *o);

/* Parses a listen address into host (numeric, "127.0.0.1" when absent) and port.
 * ST_ERR_ARG with the accepted forms otherwise. Names other than "localhost" are refused
 * (the address must not depend on a resolver). */
st_code http_parse_listen(const char *listen, char *host, size_t hostn, int *port, st_err *e);

/* 1 when host (numeric, from http_parse_listen) is a loopback address (127.0.0.0/8, ::1). */
int http_host_is_loopback(const char *host);

/* Binds and starts serving. ST_ERR_IO naming the address when it cannot bind (in use,
 * not an address of this machine). */
st_code http_server_start(const http_options *o, http_handler_fn fn, void *ctx, http_server **out, st_err *e);

/* The bound port (the chosen one when listen asked for port 0). */
int http_server_port(const http_server *s);

/* Stops accepting, closes every connection, waits for running handlers. NULL-safe. */
void http_server_stop(http_server *s);

/* ---- in a handler */
const char *http_request_method(const http_request *r);   /* "GET" or "HEAD" */
const char *http_request_path(const http_request *r);     /* "/metrics" */
/* A query argument (decoded), NULL when absent or given without a value. */
const char *http_request_arg(const http_request *r, const char *name);
/* A request header (case-insensitive name), NULL when absent. */
const char *http_request_header(const http_request *r, const char *name);

/* Sets status and a plain-text body (replacing what was there). */
void http_response_text(http_response *resp, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
