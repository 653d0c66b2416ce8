/* s3_client.c — S3 requests on libcurl: signing, connection reuse, retries, errors
 * (s3_internal.h). */
#include "store/s3_internal.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "util/sha256.h"
#include "util/timeutil.h"

struct s3_client {
    s3_config cfg;
    CURL *h;
    char sigv4[96];              /* "aws:amz:<region>:s3" */
    uint64_t rng;                /* jitter */
    char curl_err[CURL_ERROR_SIZE];
};

/* ------------------------------------------------------------------ process-wide curl state */

/* libcurl's global init is not thread-safe in 7.88: once, before the first handle. The
 * share lets stores opened one after the other (a table, then one file of it) reuse DNS
 * answers, TLS sessions and open connections. */
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLSH *share;
static CURLcode init_rc;
static pthread_mutex_t share_mu[CURL_LOCK_DATA_LAST];

static void share_lock(CURL *h, curl_lock_data d, curl_lock_access a, void *u)
{
    (void)h, (void)a, (void)u;
    pthread_mutex_lock(&share_mu[d]);
}

static void share_unlock(CURL *h, curl_lock_data d, void *u)
{
    (void)h, (void)u;
    pthread_mutex_unlock(&share_mu[d]);
}

static void curl_init_once(void)
{
    init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (init_rc) return;
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++) pthread_mutex_init(&share_mu[i], NULL);
    share = curl_share_init();
    if (!share) return;
    curl_share_setopt(share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
}

st_code s3_client_new(s3_client **out, st_err *e)
{
    *out = NULL;
    pthread_once(&curl_once, curl_init_once);
    if (init_rc) return st_err_set(e, ST_ERR_IO, "cannot initialise libcurl: %s", curl_easy_strerror(init_rc));
    s3_client *c = st_xcalloc(1, sizeof *c);
    st_code rc = s3_config_load(&c->cfg, e);
    if (rc) {
        free(c);
        return rc;
    }
    c->h = curl_easy_init();
    if (!c->h) {
        s3_client_free(c);
        return st_err_set(e, ST_ERR_IO, "cannot create a libcurl handle");
    }
    snprintf(c->sigv4, sizeof c->sigv4, "aws:amz:%s:s3", c->cfg.region);
    c->rng = (uint64_t)st_now_us() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)c;
    *out = c;
    return ST_OK;
}

void s3_client_free(s3_client *c)
{
    if (!c) return;
    if (c->h) curl_easy_cleanup(c->h);
    s3_config_free(&c->cfg);
    free(c);
}

const s3_config *s3_client_config(const s3_client *c) { return &c->cfg; }

/* ------------------------------------------------------------------ one attempt */

typedef struct xfer {
    const s3_request *r;
    s3_response *resp;
    CURL *h;
    size_t out_start;            /* r->out's length before this attempt */
    st_buf err_body;             /* body of a non-2xx answer */
    char region_hint[64];        /* x-amz-bucket-region */
} xfer;

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    xfer *x = arg;
    long status = 0;
    curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
    size_t len = size * n;
    if (status >= 200 && status < 300 && !x->r->error_in_200) {
        if (x->r->out) st_buf_append(x->r->out, p, len);
    } else if (status >= 200 && status < 300) {
        /* kept aside until we know it is not an <Error> (CompleteMultipartUpload) */
        st_buf_append(&x->err_body, p, len);
    } else if (x->err_body.len < 64 * 1024) {
        st_buf_append(&x->err_body, p, len);
    }
    return len;
}

/* Copies a header value (trimmed) into dst. */
static void header_value(const char *v, size_t n, char *dst, size_t dlen)
{
    while (n && (*v == ' ' || *v == '\t')) v++, n--;
    while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' ')) n--;
    if (n >= dlen) n = dlen - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    xfer *x = arg;
    size_t len = size * n;
    if (len > 5 && !strncasecmp(p, "HTTP/", 5)) {
        /* a new response (after a redirect or 100 Continue): forget the last one's headers */
        x->resp->etag[0] = '\0';
        x->resp->total_size = -1;
        x->region_hint[0] = '\0';
        return len;
    }
    const char *colon = memchr(p, ':', len);
    if (!colon) return len;
    size_t nl = (size_t)(colon - p);
    const char *v = colon + 1;
    size_t vl = len - nl - 1;
    if (nl == 4 && !strncasecmp(p, "ETag", 4)) {
        header_value(v, vl, x->resp->etag, sizeof x->resp->etag);
    } else if (nl == 13 && !strncasecmp(p, "Content-Range", 13)) {
        char cr[128];
        header_value(v, vl, cr, sizeof cr);
        const char *slash = strrchr(cr, '/');
        if (slash && slash[1] >= '0' && slash[1] <= '9') x->resp->total_size = strtoll(slash + 1, NULL, 10);
    } else if (nl == 19 && !strncasecmp(p, "x-amz-bucket-region", 19)) {
        header_value(v, vl, x->region_hint, sizeof x->region_hint);
    }
    return len;
}

/* Sets up the handle for r and performs it once. */
static CURLcode attempt(s3_client *c, const s3_request *r, const char *url, const char *body_hash, xfer *x)
{
    CURL *h = c->h;
    curl_easy_reset(h); /* options only: live connections, DNS and session caches stay */
    curl_easy_setopt(h, CURLOPT_SHARE, share);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->curl_err);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "smarttech (libcurl)");
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->cfg.connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, c->cfg.stall_timeout_ms / 1000 > 0 ? c->cfg.stall_timeout_ms / 1000 : 1);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_FILETIME, 1L);
    if (c->cfg.ca_file) curl_easy_setopt(h, CURLOPT_CAINFO, c->cfg.ca_file);
    if (!c->cfg.verify_tls) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (c->cfg.access_key) {
        curl_easy_setopt(h, CURLOPT_AWS_SIGV4, c->sigv4);
        curl_easy_setopt(h, CURLOPT_USERNAME, c->cfg.access_key);
        curl_easy_setopt(h, CURLOPT_PASSWORD, c->cfg.secret_key);
    }
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);

    struct curl_slist *hd = NULL;
    char line[1200];
    snprintf(line, sizeof line, "x-amz-content-sha256: %s", body_hash);
    hd = curl_slist_append(hd, line);
    if (c->cfg.session_token) {
        snprintf(line, sizeof line, "x-amz-security-token: %s", c->cfg.session_token);
        hd = curl_slist_append(hd, line);
    }
    if (r->range) {
        snprintf(line, sizeof line, "Range: %s", r->range);
        hd = curl_slist_append(hd, line);
    }
    if (r->if_match) {
        snprintf(line, sizeof line, "If-Match: %s", r->if_match);
        hd = curl_slist_append(hd, line);
    }
    if (r->if_none_match) hd = curl_slist_append(hd, "If-None-Match: *");
    if (!strcmp(r->method, "HEAD")) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (!strcmp(r->method, "PUT") || !strcmp(r->method, "POST")) {
        /* the body from memory; form encoding and the 100-continue round trip are off, and
         * servers drop a body announced as form data */
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body ? (const char *)r->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
        hd = curl_slist_append(hd, "Content-Type: application/octet-stream");
        hd = curl_slist_append(hd, "Expect:");
    } else if (strcmp(r->method, "GET")) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    c->curl_err[0] = '\0';
    CURLcode cc = curl_easy_perform(h);
    curl_slist_free_all(hd);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    x->resp->status = cc == CURLE_OK ? status : 0;
    if (cc == CURLE_OK) {
        curl_off_t cl = -1, ft = -1;
        curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
        curl_easy_getinfo(h, CURLINFO_FILETIME_T, &ft);
        x->resp->content_length = cl;
        x->resp->mtime_ms = ft >= 0 ? (int64_t)ft * 1000 : -1;
    }
    return cc;
}

/* PUT and POST change something; the other methods we send do not, or delete. */
static int is_write(const s3_request *r) { return !strcmp(r->method, "PUT") || !strcmp(r->method, "POST"); }

/* Nothing of the request reached the server: safe to repeat whatever it does. */
static int nothing_sent(CURLcode cc)
{
    return cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST || cc == CURLE_COULDNT_RESOLVE_PROXY;
}

/* Transport failures worth another try (the others, like a certificate that does not
 * verify, fail the same way every time). */
static int transient(CURLcode cc)
{
    switch (cc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
        return 1;
    default:
        return 0;
    }
}

/* Pause before attempt n (1-based: after the first failure n = 1): base * 2^(n-1), capped,
 * times a random factor in [0.5, 1) so that writers throttled together do not come back
 * together. */
static void backoff(s3_client *c, int n)
{
    long ms = c->cfg.backoff_base_ms;
    for (int i = 1; i < n && ms < c->cfg.backoff_max_ms; i++) ms *= 2;
    if (ms > c->cfg.backoff_max_ms) ms = c->cfg.backoff_max_ms;
    c->rng ^= c->rng << 13;
    c->rng ^= c->rng >> 7;
    c->rng ^= c->rng << 17;
    double f = 0.5 + 0.5 * (double)(c->rng >> 11) / (double)(1ull << 53);
    struct timespec ts = {(time_t)(ms * f / 1000), (long)((long)(ms * f) % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* "s3://bucket/key" for messages. */
static void object_name(const s3_request *r, char *out, size_t n)
{
    snprintf(out, n, "s3://%s%s%s", r->bucket, r->key && *r->key ? "/" : "", r->key ? r->key : "");
}

static st_code describe(s3_client *c, const s3_request *r, const xfer *x, const char *what, st_err *e);

static st_code http_error(s3_client *c, const s3_request *r, const xfer *x, st_err *e)
{
    s3_response *resp = x->resp;
    char name[1100], msg[512] = "";
    object_name(r, name, sizeof name);
    s3_parse_error(x->err_body.data, x->err_body.len, resp->code, sizeof resp->code, msg, sizeof msg);
    long st = resp->status;
    st_buf wb = {0};
    st_buf_printf(&wb, "%s %s: HTTP %ld%s%s%s%s", r->method, name, st, resp->code[0] ? " " : "", resp->code,
                  msg[0] ? ": " : "", msg);
    st_code rc = describe(c, r, x, st_buf_cstr(&wb), e);
    st_buf_free(&wb);
    return rc;
}

/* The error for an answer with status resp->status; what = "METHOD s3://...: HTTP ...". */
static st_code describe(s3_client *c, const s3_request *r, const xfer *x, const char *what, st_err *e)
{
    const s3_response *resp = x->resp;
    long st = resp->status;
    const char *ep = c->cfg.endpoint;
    if (st == 404 && !strcmp(resp->code, "NoSuchBucket"))
        return st_err_set(e, ST_ERR_IO, "%s (bucket %s does not exist on %s: create it, or check the s3:// URI)", what,
                          r->bucket, ep);
    if (st == 404) return st_err_set(e, ST_ERR_NOTFOUND, "%s (no such object)", what);
    if (st == 412)
        return st_err_set(e, ST_ERR_CONFLICT, "%s (%s)", what,
                          r->if_none_match ? "it exists already: another writer created it first"
                                           : "the object changed meanwhile");
    if (st == 409 && r->if_none_match)
        return st_err_set(e, ST_ERR_AMBIGUOUS, "%s (a concurrent conditional write: the outcome is unknown)", what);
    if (st == 403) {
        const char *hint = "check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or -S access_key_id=...) and the "
                           "bucket policy";
        if (!strcmp(resp->code, "RequestTimeTooSkewed")) hint = "this machine's clock is off: set it right (NTP)";
        else if (!strcmp(resp->code, "SignatureDoesNotMatch")) hint = "the secret key does not match the key id";
        else if (!strcmp(resp->code, "InvalidAccessKeyId")) hint = "the server does not know this access key id";
        return st_err_set(e, ST_ERR_DENIED, "%s (access denied: %s)", what, hint);
    }
    if (st == 301 || st == 307 || !strcmp(resp->code, "AuthorizationHeaderMalformed") ||
        !strcmp(resp->code, "PermanentRedirect"))
        return st_err_set(e, ST_ERR_IO, "%s (the bucket is in another region%s%s: set AWS_REGION%s%s)", what,
                          x->region_hint[0] ? ", " : "", x->region_hint, x->region_hint[0] ? "=" : "",
                          x->region_hint);
    if (st == 400 && !strcmp(resp->code, "InvalidArgument") && r->if_none_match)
        return st_err_set(e, ST_ERR_UNSUPPORTED, "%s (this server does not support conditional writes, "
                          "If-None-Match: *, which Delta commits need)", what);
    return st_err_set(e, ST_ERR_IO, "%s", what);
}

/* Whether an answer with this status (and S3 code) is worth another attempt. */
static int retry_status(const s3_request *r, long st, const char *code)
{
    if (st == 503 || st == 429) return 1;                       /* SlowDown: not processed */
    if (st == 400 && !strcmp(code, "RequestTimeout")) return 1; /* our upload stalled: not applied */
    if (st == 500 || st == 502 || st == 504) return r->idempotent;
    return 0;
}

st_code s3_client_do(s3_client *c, const s3_request *r, s3_response *resp, st_err *e)
{
    memset(resp, 0, sizeof *resp);
    resp->content_length = resp->mtime_ms = resp->total_size = -1;
    char hash[65];
    {
        st_sha256 sh;
        uint8_t d[32];
        st_sha256_init(&sh);
        if (r->body_len) st_sha256_update(&sh, r->body, r->body_len);
        st_sha256_final(&sh, d);
        st_sha256_hex(d, hash);
    }
    char *url = s3_url(&c->cfg, r->bucket, r->key, r->query);
    xfer x = {.r = r, .resp = resp, .h = c->h, .out_start = r->out ? r->out->len : 0};
    st_code rc = ST_OK;
    int max = c->cfg.max_attempts > 0 ? c->cfg.max_attempts : 1;
    for (int n = 1;; n++) {
        resp->attempts = n;
        st_buf_reset(&x.err_body);
        resp->code[0] = '\0';
        if (r->out) r->out->len = x.out_start;
        CURLcode cc = attempt(c, r, url, hash, &x);
        if (cc != CURLE_OK) {
            char name[1100];
            object_name(r, name, sizeof name);
            int sent = !nothing_sent(cc);
            if (sent && !r->idempotent) {
                rc = st_err_set(e, ST_ERR_AMBIGUOUS, "%s %s: %s (%s): the request may have been applied", r->method,
                                name, curl_easy_strerror(cc), c->curl_err[0] ? c->curl_err : c->cfg.endpoint);
                break;
            }
            if (!transient(cc) || n >= max) {
                /* a write whose last attempt reached the server may have been applied */
                st_code code = cc == CURLE_PEER_FAILED_VERIFICATION ? ST_ERR_DENIED
                               : sent && is_write(r)                ? ST_ERR_AMBIGUOUS
                                                                    : ST_ERR_IO;
                rc = st_err_set(e, code, "%s %s: %s (%s)%s", r->method, name, curl_easy_strerror(cc),
                                c->curl_err[0] ? c->curl_err : c->cfg.endpoint,
                                code == ST_ERR_AMBIGUOUS ? ": it may have been applied" : "");
                if (n > 1) st_err_wrap(e, "S3 endpoint %s unreachable for %d attempts", c->cfg.endpoint, n);
                break;
            }
            backoff(c, n);
            continue;
        }
        long st = resp->status;
        if (st >= 200 && st < 300 && r->error_in_200) {
            char code[64], msg[256];
            if (s3_parse_error(x.err_body.data, x.err_body.len, code, sizeof code, msg, sizeof msg)) {
                resp->status = st = 500; /* the server failed after answering 200 */
                snprintf(resp->code, sizeof resp->code, "%s", code);
            } else if (r->out) {
                st_buf_append(r->out, x.err_body.data, x.err_body.len);
            }
        }
        if (st >= 200 && st < 300) break;
        if (!resp->code[0]) {
            char msg[8];
            s3_parse_error(x.err_body.data, x.err_body.len, resp->code, sizeof resp->code, msg, sizeof msg);
        }
        if (retry_status(r, st, resp->code) && n < max) {
            backoff(c, n);
            continue;
        }
        if (!r->idempotent && (st == 500 || st == 502 || st == 504)) {
            char name[1100];
            object_name(r, name, sizeof name);
            rc = st_err_set(e, ST_ERR_AMBIGUOUS, "%s %s: HTTP %ld %s: the request may have been applied", r->method,
                            name, st, resp->code);
            break;
        }
        rc = http_error(c, r, &x, e);
        if (n > 1 && retry_status(r, st, resp->code)) {
            if (is_write(r) && st >= 500) { /* the last 5xx may have come after the write was applied */
                rc = ST_ERR_AMBIGUOUS;
                if (e) e->code = rc;
            }
            st_err_wrap(e, "after %d attempts", n);
        }
        break;
    }
    if (rc && r->out) r->out->len = x.out_start;
    st_buf_free(&x.err_body);
    free(url);
    return rc;
}
