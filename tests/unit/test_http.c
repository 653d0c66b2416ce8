/* test_http.c — the embedded HTTP server (http/http.h) and a job's metrics endpoint
 * (http/metrics_endpoint.h), over real loopback sockets: routes, status codes, HEAD, methods
 * other than GET/HEAD, traversal-looking paths, an oversized header, listen-address parsing. */
#include "check.h"
#include "http/http.h"
#include "http/metrics_endpoint.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* Sends raw bytes, reads the whole answer (the connection is closed by "Connection: close"). */
static char *raw(int port, const char *req, size_t reqlen)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return st_xstrdup("");
    }
    for (size_t off = 0; off < reqlen;) {
        ssize_t n = send(fd, req + off, reqlen - off, MSG_NOSIGNAL);
        if (n <= 0) break; /* the server may close early (oversized header) */
        off += (size_t)n;
    }
    st_buf b = {0};
    char tmp[4096];
    ssize_t n;
    while ((n = recv(fd, tmp, sizeof tmp, 0)) > 0) st_buf_append(&b, tmp, (size_t)n);
    close(fd);
    return (char *)st_buf_detach(&b, NULL);
}

static char *raw_str(int port, const char *req)
{
    return raw(port, req, strlen(req));
}

static char *get(int port, const char *method, const char *path)
{
    char req[512];
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", method, path);
    return raw(port, req, (size_t)n);
}

static int status_of(const char *resp)
{
    return strncmp(resp, "HTTP/1.", 7) ? -1 : atoi(resp + 9);
}

static const char *body_of(const char *resp)
{
    const char *p = strstr(resp, "\r\n\r\n");
    return p ? p + 4 : "";
}

static void echo(void *ctx, const http_request *req, http_response *resp)
{
    (void)ctx;
    if (strcmp(http_request_path(req), "/echo")) {
        http_response_text(resp, 404, "no\n");
        return;
    }
    const char *a = http_request_arg(req, "a"), *h = http_request_header(req, "x-thing");
    http_response_text(resp, 200, "%s %s %s", http_request_method(req), a ? a : "-", h ? h : "-");
}

static void test_server(void)
{
    http_options o;
    http_options_init(&o);
    http_server *s;
    st_err e;
    CHECK_MSG(http_server_start(&o, echo, NULL, &s, &e) == ST_OK, "%s", e.msg);
    int port = http_server_port(s);
    CHECK(port > 0);
    char *r = raw_str(port, "GET /%65cho?a=x%20y HTTP/1.1\r\nHost: h\r\nX-Thing: T\r\nConnection: close\r\n\r\n");
    CHECK(status_of(r) == 200);
    CHECK_STR(body_of(r), "GET x y T");
    CHECK(strstr(r, "X-Content-Type-Options: nosniff\r\n") && strstr(r, "Cache-Control: no-store\r\n"));
    free(r);
    r = get(port, "HEAD", "/echo");
    CHECK(status_of(r) == 200 && !*body_of(r) && strstr(r, "Content-Length: 8\r\n"));
    free(r);
    static const char *bad[] = {"POST", "PUT", "DELETE", "OPTIONS", "TRACE", "PATCH", "BREW"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = get(port, bad[i], "/echo");
        CHECK_MSG(status_of(r) == 405 && strstr(r, "Allow: GET, HEAD\r\n"), "%s: %.40s", bad[i], r);
        free(r);
    }
    /* a POST with a body is refused without reading it */
    r = raw_str(port, "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello");
    CHECK(status_of(r) == 405);
    free(r);
    static const char *paths[] = {"/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/echo/../echo/..", "//etc/passwd",
                                  "/..%2fetc%2fpasswd", "/%00", "/echo%00"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        r = get(port, "GET", paths[i]);
        CHECK_MSG(status_of(r) == 404 || (status_of(r) >= 400 && status_of(r) < 500), "%s: %.40s", paths[i], r);
        CHECK(!strstr(r, "root:"));
        free(r);
    }
    /* a 1 MiB header */
    size_t big = 1 << 20;
    char *req = st_xmalloc(big + 128);
    int n = snprintf(req, 128, "GET /echo HTTP/1.1\r\nHost: h\r\nX-Big: ");
    memset(req + n, 'a', big);
    memcpy(req + n + big, "\r\n\r\n", 4);
    r = raw(port, req, (size_t)n + big + 4);
    CHECK_MSG(status_of(r) == 431 || status_of(r) == 413 || status_of(r) == -1, "%.60s", r);
    free(r);
    free(req);
    /* garbage is not HTTP */
    r = raw_str(port, "\x01\x02\x03\r\n\r\n");
    CHECK(status_of(r) == -1 || status_of(r) == 400);
    free(r);
    r = get(port, "GET", "/echo");
    CHECK(status_of(r) == 200); /* still serving */
    free(r);
    http_server_stop(s);
    http_server_stop(NULL);
}

static void test_endpoint(void)
{
    job_stats *js = job_stats_new("silver");
    job_stats_add(js, JOB_EVENTS_IN, 42);
    metrics_endpoint *ep;
    st_err e;
    CHECK_MSG(metrics_endpoint_start("127.0.0.1:0", js, &ep, &e) == ST_OK, "%s", e.msg);
    int port = metrics_endpoint_port(ep);
    char *r = get(port, "GET", "/metrics");
    CHECK(status_of(r) == 200);
    CHECK(strstr(r, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n") != NULL);
    CHECK(strstr(body_of(r), "\nsmarttech_events_in_total 42\n") != NULL);
    free(r);
    r = get(port, "GET", "/healthz");
    CHECK(status_of(r) == 200 && !strcmp(body_of(r), "ok\n"));
    free(r);
    job_stats_set_ready(js, 0, "no partitions assigned yet");
    r = get(port, "GET", "/readyz");
    CHECK(status_of(r) == 503);
    CHECK_STR(body_of(r), "not ready: no partitions assigned yet\n");
    free(r);
    job_stats_set_ready(js, 1, NULL);
    r = get(port, "GET", "/readyz");
    CHECK(status_of(r) == 200);
    free(r);
    r = get(port, "GET", "/metrics/../healthz");
    CHECK(status_of(r) == 404);
    free(r);
    r = get(port, "DELETE", "/metrics");
    CHECK(status_of(r) == 405);
    free(r);
    /* a second server on the same port cannot bind: a clear error */
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    metrics_endpoint *ep2 = NULL;
    CHECK(metrics_endpoint_start(addr, js, &ep2, &e) == ST_ERR_IO && ep2 == NULL);
    CHECK(strstr(e.msg, addr) != NULL);
    metrics_endpoint_stop(ep);
    job_stats_destroy(js);
}

static void test_listen(void)
{
    char h[64];
    int p;
    st_err e;
    CHECK(http_parse_listen("127.0.0.1:9100", h, sizeof h, &p, &e) == ST_OK && !strcmp(h, "127.0.0.1") && p == 9100);
    CHECK(http_parse_listen(":8080", h, sizeof h, &p, &e) == ST_OK && !strcmp(h, "127.0.0.1") && p == 8080);
    CHECK(http_parse_listen("8080", h, sizeof h, &p, &e) == ST_OK && !strcmp(h, "127.0.0.1"));
    CHECK(http_parse_listen("localhost:1", h, sizeof h, &p, &e) == ST_OK && !strcmp(h, "127.0.0.1"));
    CHECK(http_parse_listen("[::1]:9", h, sizeof h, &p, &e) == ST_OK && !strcmp(h, "::1") && p == 9);
    CHECK(http_parse_listen("0.0.0.0:80", h, sizeof h, &p, &e) == ST_OK && !strcmp(h, "0.0.0.0"));
    CHECK(http_parse_listen("example.com:80", h, sizeof h, &p, &e) == ST_ERR_ARG);
    CHECK(http_parse_listen("1.2.3.4:99999", h, sizeof h, &p, &e) == ST_ERR_ARG);
    CHECK(http_parse_listen("1.2.3.4:", h, sizeof h, &p, &e) == ST_ERR_ARG);
    CHECK(http_parse_listen("::1:80", h, sizeof h, &p, &e) == ST_ERR_ARG);
    CHECK(http_parse_listen("", h, sizeof h, &p, &e) == ST_ERR_ARG);
    CHECK(http_host_is_loopback("127.0.0.1") && http_host_is_loopback("127.9.9.9") && http_host_is_loopback("::1"));
    CHECK(!http_host_is_loopback("0.0.0.0") && !http_host_is_loopback("10.0.0.1") && !http_host_is_loopback("::"));
}

int main(void)
{
    test_listen();
    test_server();
    test_endpoint();
    return CHECK_DONE();
}
