/* s3_config.c — S3 settings (AWS_* variables and the process-wide options of store.h) and
 * addressing: locations, key encoding, URLs, canonical query strings (s3_internal.h). */
#include "store/s3_internal.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/timeutil.h"

/* ------------------------------------------------------------------ process-wide options */

/* What -S accepts; the help text is what `--help` prints. */
static const struct option_def {
    const char *key;
    const char *help;
} option_defs[] = {
    {"endpoint", "service URL, e.g. http://localhost:9000 (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else AWS)"},
    {"region", "signing region (default: AWS_REGION, AWS_DEFAULT_REGION, else us-east-1)"},
    {"access_key_id", "credentials (default: AWS_ACCESS_KEY_ID)"},
    {"secret_access_key", "credentials (default: AWS_SECRET_ACCESS_KEY)"},
    {"session_token", "temporary credentials (default: AWS_SESSION_TOKEN)"},
    {"path_style", "true: http://host/bucket/key (MinIO, Ceph, s3proxy); false: http://bucket.host/key (default)"},
    {"ca_file", "CA bundle for HTTPS (default: AWS_CA_BUNDLE, else the system's CAs)"},
    {"verify_tls", "false skips certificate checks (test servers only; default true)"},
    {"part_size", "multipart part size, >= 5MiB (default 8MiB; objects smaller than this are one PUT)"},
    {"retries", "attempts of one request on throttling, 5xx and connection errors (default 8)"},
    {"connect_timeout", "TCP/TLS connect timeout (default 10s)"},
    {"stall_timeout", "a request without progress this long is cut and retried (default 30s)"},
};

#define NOPTS (sizeof option_defs / sizeof option_defs[0])

static pthread_mutex_t opt_mu = PTHREAD_MUTEX_INITIALIZER;
static char *opt_values[NOPTS];

static int parse_bool(const char *v, int *out)
{
    if (!strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes") || !strcasecmp(v, "on")) *out = 1;
    else if (!strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "no") || !strcasecmp(v, "off")) *out = 0;
    else return -1;
    return 0;
}

/* "8388608", "8MiB", "8M", "512KiB". 0 on success. */
static int parse_size(const char *v, size_t *out)
{
    char *end;
    unsigned long long n = strtoull(v, &end, 10);
    if (end == v) return -1;
    unsigned long long mul = 1;
    if (!*end) mul = 1;
    else if (!strcasecmp(end, "k") || !strcasecmp(end, "kib") || !strcasecmp(end, "kb")) mul = 1024;
    else if (!strcasecmp(end, "m") || !strcasecmp(end, "mib") || !strcasecmp(end, "mb")) mul = 1024 * 1024;
    else if (!strcasecmp(end, "g") || !strcasecmp(end, "gib") || !strcasecmp(end, "gb")) mul = 1024ull * 1024 * 1024;
    else return -1;
    if (n > (1ull << 40) / mul) return -1;
    *out = (size_t)(n * mul);
    return 0;
}

/* Checks one option's value. */
static st_code check_value(const char *key, const char *v, st_err *e)
{
    int b;
    size_t sz;
    int64_t us;
    if (!strcmp(key, "path_style") || !strcmp(key, "verify_tls")) {
        if (parse_bool(v, &b)) return st_err_set(e, ST_ERR_ARG, "-S %s=%s: expected true or false", key, v);
    } else if (!strcmp(key, "part_size")) {
        if (parse_size(v, &sz) || sz < 5u * 1024 * 1024 || sz > 5ull * 1024 * 1024 * 1024)
            return st_err_set(e, ST_ERR_ARG, "-S part_size=%s: expected a size from 5MiB to 5GiB (S3's limits)", v);
    } else if (!strcmp(key, "retries")) {
        char *end;
        long n = strtol(v, &end, 10);
        if (*end || end == v || n < 1 || n > 100)
            return st_err_set(e, ST_ERR_ARG, "-S retries=%s: expected a number of attempts from 1 to 100", v);
    } else if (!strcmp(key, "connect_timeout") || !strcmp(key, "stall_timeout")) {
        if (st_parse_duration_us(v, &us) || us < 1000 || us > 3600LL * 1000000)
            return st_err_set(e, ST_ERR_ARG, "-S %s=%s: expected a duration from 1ms to 1h (e.g. 10s)", key, v);
    } else if (!strcmp(key, "endpoint")) {
        if (strncasecmp(v, "http://", 7) && strncasecmp(v, "https://", 8))
            return st_err_set(e, ST_ERR_ARG, "-S endpoint=%s: expected http://host[:port] or https://host[:port]", v);
    }
    return ST_OK;
}

st_code st_store_set_option(const char *key, const char *value, st_err *e)
{
    size_t i = 0;
    while (i < NOPTS && strcmp(option_defs[i].key, key)) i++;
    if (i == NOPTS) {
        st_buf known = {0};
        for (size_t k = 0; k < NOPTS; k++) st_buf_printf(&known, "%s%s", k ? ", " : "", option_defs[k].key);
        st_code rc = st_err_set(e, ST_ERR_ARG, "-S %s: unknown object storage setting (known: %s)", key,
                                st_buf_cstr(&known));
        st_buf_free(&known);
        return rc;
    }
    st_code rc = check_value(key, value, e);
    if (rc) return rc;
    pthread_mutex_lock(&opt_mu);
    free(opt_values[i]);
    opt_values[i] = st_xstrdup(value);
    pthread_mutex_unlock(&opt_mu);
    return ST_OK;
}

st_code st_store_set_option_arg(const char *arg, st_err *e)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg) return st_err_set(e, ST_ERR_ARG, "-S %s: expected key=value", arg);
    char *key = st_xstrndup(arg, (size_t)(eq - arg));
    st_code rc = st_store_set_option(key, eq + 1, e);
    free(key);
    return rc;
}

void st_store_clear_options(void)
{
    pthread_mutex_lock(&opt_mu);
    for (size_t i = 0; i < NOPTS; i++) {
        free(opt_values[i]);
        opt_values[i] = NULL;
    }
    pthread_mutex_unlock(&opt_mu);
}

void st_store_options_help(st_buf *out)
{
    for (size_t i = 0; i < NOPTS; i++) st_buf_printf(out, "    %-18s %s\n", option_defs[i].key, option_defs[i].help);
}

/* ------------------------------------------------------------------ settings */

/* The option's value (a copy), else the first set environment variable of the list. */
static char *setting(const char *key, const char *env1, const char *env2)
{
    char *v = NULL;
    pthread_mutex_lock(&opt_mu);
    for (size_t i = 0; i < NOPTS; i++)
        if (!strcmp(option_defs[i].key, key) && opt_values[i]) v = st_xstrdup(opt_values[i]);
    pthread_mutex_unlock(&opt_mu);
    if (v) return v;
    const char *ev = env1 ? getenv(env1) : NULL;
    if ((!ev || !*ev) && env2) ev = getenv(env2);
    return ev && *ev ? st_xstrdup(ev) : NULL;
}

/* Checks an endpoint URL and strips its trailing '/'. */
static st_code clean_endpoint(char *url, const char *from, st_err *e)
{
    const char *host = NULL;
    if (!strncasecmp(url, "http://", 7)) host = url + 7;
    else if (!strncasecmp(url, "https://", 8)) host = url + 8;
    if (!host || !*host || *host == '/')
        return st_err_set(e, ST_ERR_ARG, "%s=%s: expected http://host[:port] or https://host[:port]", from, url);
    char *slash = strchr(host, '/');
    if (slash) {
        if (slash[strspn(slash, "/")] != '\0')
            return st_err_set(e, ST_ERR_ARG, "%s=%s: an endpoint has no path (the bucket comes from s3://bucket/...)",
                              from, url);
        *slash = '\0';
    }
    if (strpbrk(host, "?#@ "))
        return st_err_set(e, ST_ERR_ARG, "%s=%s: expected http://host[:port] or https://host[:port]", from, url);
    return ST_OK;
}

st_code s3_config_load(s3_config *c, st_err *e)
{
    memset(c, 0, sizeof *c);
    c->verify_tls = 1;
    c->part_size = 8u * 1024 * 1024;
    c->max_attempts = 8;
    c->connect_timeout_ms = 10000;
    c->stall_timeout_ms = 30000;
    c->backoff_base_ms = 100;
    c->backoff_max_ms = 5000;
    c->region = setting("region", "AWS_REGION", "AWS_DEFAULT_REGION");
    if (!c->region) c->region = st_xstrdup("us-east-1");
    c->access_key = setting("access_key_id", "AWS_ACCESS_KEY_ID", NULL);
    c->secret_key = setting("secret_access_key", "AWS_SECRET_ACCESS_KEY", NULL);
    c->session_token = setting("session_token", "AWS_SESSION_TOKEN", NULL);
    c->ca_file = setting("ca_file", "AWS_CA_BUNDLE", NULL);
    st_code rc = ST_OK;
    if ((c->access_key != NULL) != (c->secret_key != NULL))
        rc = st_err_set(e, ST_ERR_ARG, "S3 credentials: %s is set but %s is not",
                        c->access_key ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
                        c->access_key ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
    for (const char *p = c->region; !rc && *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-')
            rc = st_err_set(e, ST_ERR_ARG, "S3 region '%s' is not a region name (like eu-west-1)", c->region);
    c->endpoint = setting("endpoint", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL");
    if (!rc && c->endpoint) rc = clean_endpoint(c->endpoint, "S3 endpoint", e);
    if (!rc && !c->endpoint) {
        st_buf b = {0};
        st_buf_printf(&b, "https://s3.%s.amazonaws.com", c->region);
        c->endpoint = (char *)st_buf_detach(&b, NULL);
    }
    char *v;
    int flag;
    if (!rc && (v = setting("path_style", NULL, NULL))) {
        parse_bool(v, &flag); /* checked when set */
        c->path_style = flag;
        free(v);
    }
    if (!rc && (v = setting("verify_tls", NULL, NULL))) {
        parse_bool(v, &flag);
        c->verify_tls = flag;
        free(v);
    }
    if (!rc && (v = setting("part_size", NULL, NULL))) {
        parse_size(v, &c->part_size);
        free(v);
    }
    if (!rc && (v = setting("retries", NULL, NULL))) {
        c->max_attempts = atoi(v);
        free(v);
    }
    int64_t us;
    if (!rc && (v = setting("connect_timeout", NULL, NULL))) {
        if (st_parse_duration_us(v, &us) == 0) c->connect_timeout_ms = (long)(us / 1000);
        free(v);
    }
    if (!rc && (v = setting("stall_timeout", NULL, NULL))) {
        if (st_parse_duration_us(v, &us) == 0) c->stall_timeout_ms = (long)(us / 1000);
        free(v);
    }
    if (rc) s3_config_free(c);
    return rc;
}

void s3_config_free(s3_config *c)
{
    if (!c) return;
    free(c->endpoint);
    free(c->region);
    free(c->access_key);
    if (c->secret_key) memset(c->secret_key, 0, strlen(c->secret_key));
    free(c->secret_key);
    free(c->session_token);
    free(c->ca_file);
    memset(c, 0, sizeof *c);
}

/* ------------------------------------------------------------------ addressing */

/* S3's bucket names: 3-63 of [a-z0-9.-]; older (us-east-1) buckets may also have upper
 * case and '_', which we accept and address path-style. */
static int bucket_char(char c) { return isalnum((unsigned char)c) || c == '.' || c == '-' || c == '_'; }

st_code s3_location_parse(const char *location, char **bucket, char **prefix, st_err *e)
{
    *bucket = *prefix = NULL;
    const char *slash = strchr(location, '/');
    size_t blen = slash ? (size_t)(slash - location) : strlen(location);
    if (!blen) return st_err_set(e, ST_ERR_ARG, "s3://%s: no bucket name (s3://bucket/prefix)", location);
    for (size_t i = 0; i < blen; i++)
        if (!bucket_char(location[i]))
            return st_err_set(e, ST_ERR_ARG, "s3://%s: '%.*s' is not a bucket name (letters, digits, '.', '-')",
                              location, (int)blen, location);
    if (blen > 255) return st_err_set(e, ST_ERR_ARG, "s3://%.64s...: bucket name too long", location);
    st_buf p = {0};
    const char *s = slash ? slash + 1 : "";
    while (*s) {
        const char *end = strchr(s, '/');
        size_t n = end ? (size_t)(end - s) : strlen(s);
        if (!end && n == 0) break; /* one trailing '/' */
        if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.')) {
            st_buf_free(&p);
            return st_err_set(e, ST_ERR_ARG, "s3://%s: the prefix has an empty, '.' or '..' part", location);
        }
        st_buf_append(&p, s, n);
        st_buf_append_u8(&p, '/');
        if (!end) break;
        s = end + 1;
    }
    st_buf_cstr(&p);
    *prefix = (char *)st_buf_detach(&p, NULL);
    *bucket = st_xstrndup(location, blen);
    return ST_OK;
}

int s3_bucket_dns_safe(const char *b, int https)
{
    size_t n = strlen(b);
    if (n < 3 || n > 63 || !isalnum((unsigned char)b[0]) || !isalnum((unsigned char)b[n - 1])) return 0;
    int digits_dots = 1;
    for (size_t i = 0; i < n; i++) {
        char c = b[i];
        if (!(islower((unsigned char)c) || isdigit((unsigned char)c) || c == '-' || (c == '.' && !https))) return 0;
        if (c == '.' && i && b[i - 1] == '.') return 0;
        if (!isdigit((unsigned char)c) && c != '.') digits_dots = 0;
    }
    return !digits_dots; /* "1.2.3.4" would be taken for an address */
}

void s3_uri_encode(st_buf *out, const char *s, size_t n, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    st_buf_reserve(out, n + 16);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || (c == '/' && keep_slash)) {
            st_buf_append_u8(out, c);
        } else {
            st_buf_append_u8(out, '%');
            st_buf_append_u8(out, (uint8_t)hex[c >> 4]);
            st_buf_append_u8(out, (uint8_t)hex[c & 15]);
        }
    }
}

static int by_name(const void *a, const void *b)
{
    const s3_param *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value ? x->value : "", y->value ? y->value : "");
}

void s3_query(st_buf *out, s3_param *params, size_t n)
{
    qsort(params, n, sizeof *params, by_name);
    for (size_t i = 0; i < n; i++) {
        if (i) st_buf_append_u8(out, '&');
        s3_uri_encode(out, params[i].name, strlen(params[i].name), 0);
        st_buf_append_u8(out, '=');
        if (params[i].value) s3_uri_encode(out, params[i].value, strlen(params[i].value), 0);
    }
}

/* Whether host (without port) is an IPv4 or IPv6 literal: no bucket sub-domain there. */
static int host_is_address(const char *host, size_t n)
{
    if (n && host[0] == '[') return 1;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)host[i]) && host[i] != '.') return 0;
    return 1;
}

char *s3_url(const s3_config *c, const char *bucket, const char *key, const char *query)
{
    const char *sep = strstr(c->endpoint, "://");
    size_t scheme_len = (size_t)(sep - c->endpoint) + 3;
    const char *host = sep + 3;
    const char *colon = host[0] == '[' ? strchr(host, ']') : strchr(host, ':');
    size_t hostlen = colon && *colon == ':' ? (size_t)(colon - host) : strlen(host);
    if (colon && *colon == ']') hostlen = (size_t)(colon - host) + 1;
    int https = !strncasecmp(c->endpoint, "https", 5);
    int vhost = !c->path_style && s3_bucket_dns_safe(bucket, https) && !host_is_address(host, hostlen);
    st_buf u = {0};
    st_buf_append(&u, c->endpoint, scheme_len);
    if (vhost) {
        st_buf_append_str(&u, bucket);
        st_buf_append_u8(&u, '.');
    }
    st_buf_append_str(&u, host);
    st_buf_append_u8(&u, '/');
    if (!vhost) {
        s3_uri_encode(&u, bucket, strlen(bucket), 0);
        if (key && *key) st_buf_append_u8(&u, '/');
    }
    if (key) s3_uri_encode(&u, key, strlen(key), 1);
    if (query && *query) {
        st_buf_append_u8(&u, '?');
        st_buf_append_str(&u, query);
    }
    st_buf_cstr(&u);
    return (char *)st_buf_detach(&u, NULL);
}
