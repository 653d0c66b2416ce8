/* s3_internal.h — private to src/store/: the pieces of the S3 backend (store_s3.c) that are
 * plain functions of their inputs, apart so the unit tests reach them without a server:
 *   - settings (s3_config): the AWS_* variables and st_store_set_option overrides merged;
 *   - addressing: bucket and prefix of a location, key encoding, URLs in path style or
 *     virtual-hosted style, canonical query strings;
 *   - XML: a small parser for the few S3 responses we read (listings, multipart uploads,
 *     errors).
 * Ownership: every char * of the structs below is malloc'd and owned by the struct (its
 * _free function releases it).
 */
#ifndef ST_STORE_S3_INTERNAL_H
#define ST_STORE_S3_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "util/buf.h"
#include "util/err.h"

/* ------------------------------------------------------------------ settings */

typedef struct s3_config {
    char *endpoint;              /* "scheme://host[:port]" (no path, no trailing '/') */
    char *region;                /* signing region ("us-east-1" by default) */
    char *access_key;            /* NULL: no credentials (anonymous requests) */
    char *secret_key;
    char *session_token;         /* NULL unless temporary credentials */
    char *ca_file;               /* NULL: the system's CAs */
    int path_style;              /* 1: http://host/bucket/key; 0: http://bucket.host/key */
    int verify_tls;              /* 0 only when asked for (self-signed test servers) */
    size_t part_size;            /* multipart part size, bytes (>= 5 MiB) */
    int max_attempts;            /* tries of one request (1 = no retry) */
    long connect_timeout_ms;
    long stall_timeout_ms;       /* a transfer without progress this long is cut */
    long backoff_base_ms;        /* first retry pause (doubled each time, with jitter) */
    long backoff_max_ms;
} s3_config;

/* Fills c from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
 * AWS_REGION or AWS_DEFAULT_REGION, AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, AWS_CA_BUNDLE)
 * then the process-wide options of st_store_set_option, which win. Without an endpoint:
 * https://s3.<region>.amazonaws.com. ST_ERR_ARG naming the setting for a bad value. */
st_code s3_config_load(s3_config *c, st_err *e);
void s3_config_free(s3_config *c);

/* ------------------------------------------------------------------ addressing */

/* Splits a location "bucket[/prefix]" (an s3:// URI without its scheme) into the bucket and
 * the key prefix of the store's objects ("" or "a/b/", always ending with '/'). ST_ERR_ARG
 * for an empty or invalid bucket name, or a prefix with empty, "." or ".." parts. */
st_code s3_location_parse(const char *location, char **bucket, char **prefix, st_err *e);

/* Whether the bucket can be a host name label: virtual-hosted addressing needs it (and a
 * name with '.' does not match the TLS certificate of *.s3.amazonaws.com). */
int s3_bucket_dns_safe(const char *bucket, int https);

/* Appends s (n bytes) percent-encoded as SigV4 wants: everything but A-Z a-z 0-9 - . _ ~
 * (and '/' when keep_slash) as %XY, upper-case hex. */
void s3_uri_encode(st_buf *out, const char *s, size_t n, int keep_slash);

typedef struct s3_param {
    const char *name;
    const char *value;           /* NULL or "": "name=" */
} s3_param;

/* Appends the canonical query string of params: sorted by name, names and values encoded,
 * "name=value" joined by '&' (what SigV4 signs; libcurl 7.88 signs the query as given).
 * Sorts params in place. */
void s3_query(st_buf *out, s3_param *params, size_t n);

/* The URL of an object (key: full object key, NULL or "" for the bucket itself) with an
 * already canonical query (NULL: none). Malloc'd. Path style or virtual-hosted style as
 * c->path_style says, path style anyway when the bucket is not DNS-safe. */
char *s3_url(const s3_config *c, const char *bucket, const char *key, const char *query);

/* ------------------------------------------------------------------ XML */

/* Called at the end of every element with its path from the root ("ListBucketResult/
 * Contents/Key", namespace prefixes dropped) and the text directly inside it, entities
 * decoded (len bytes, NUL-terminated). A non-zero return stops the parse (returned as is). */
typedef int (*s3_xml_fn)(void *arg, const char *path, const char *text, size_t len);

/* Parses a whole document: declarations, comments, CDATA, attributes (ignored),
 * self-closing tags, the five named entities and numeric character references. Anything
 * else (a DOCTYPE, a mismatched or unclosed tag, an unknown entity, nesting deeper than 32
 * or a path longer than 512 bytes) is ST_ERR_FORMAT. O(len); never reads past len. */
st_code s3_xml_parse(const void *xml, size_t len, s3_xml_fn fn, void *arg, st_err *e);

/* One page of ListObjectsV2: keys are full object keys (the store prefix included),
 * folders (CommonPrefixes) with is_prefix = 1. */
typedef struct s3_list_page {
    st_list entries;
    int truncated;
    char *next_token;            /* NextContinuationToken, NULL when none */
} s3_list_page;

st_code s3_parse_list(const void *xml, size_t len, s3_list_page *out, st_err *e);
void s3_list_page_free(s3_list_page *p);

/* One page of ListMultipartUploads. */
typedef struct s3_upload {
    char *key;
    char *upload_id;
    int64_t initiated_ms;        /* -1 when absent or unreadable */
} s3_upload;

typedef struct s3_uploads_page {
    s3_upload *items;
    size_t count, cap;
    int truncated;
    char *next_key_marker, *next_upload_id_marker;
} s3_uploads_page;

st_code s3_parse_uploads(const void *xml, size_t len, s3_uploads_page *out, st_err *e);
void s3_uploads_page_free(s3_uploads_page *p);

/* UploadId of an InitiateMultipartUploadResult (malloc'd), or NULL with ST_ERR_FORMAT. */
char *s3_parse_upload_id(const void *xml, size_t len, st_err *e);

/* Code and Message of an <Error> document into code/msg (empty when absent or not XML).
 * Returns 1 when the document is an <Error>. */
int s3_parse_error(const void *xml, size_t len, char *code, size_t codelen, char *msg, size_t msglen);

/* ------------------------------------------------------------------ requests (s3_client.c)
 *
 * One client = one libcurl easy handle (its connections are reused from request to
 * request) plus the process-wide share of DNS, TLS sessions and connections. Signing is
 * libcurl's (CURLOPT_AWS_SIGV4); we add the x-amz-content-sha256 header (the body's
 * SHA-256) that libcurl 7.88 leaves out. A client is used by one thread at a time.
 *
 * Retries, with exponential backoff and full jitter (base * 2^n capped, times a random
 * factor in [0.5, 1)): 503 (SlowDown) and connection failures where nothing was sent,
 * always; 500, 502, 504, timeouts and broken connections only for idempotent requests.
 * A non-idempotent request (put-if-absent) that may have reached the server is not
 * retried: ST_ERR_AMBIGUOUS, and the caller finds out (Delta: by txnId).
 */

typedef struct s3_client s3_client;

/* Loads the settings (s3_config_load) and makes a client. */
st_code s3_client_new(s3_client **out, st_err *e);
void s3_client_free(s3_client *c);                     /* NULL-safe */
const s3_config *s3_client_config(const s3_client *c);

typedef struct s3_request {
    const char *method;          /* GET PUT HEAD POST DELETE */
    const char *bucket;
    const char *key;             /* full object key; NULL: the bucket */
    const char *query;           /* canonical (s3_query) or NULL */
    const void *body;            /* PUT/POST body, NULL: none */
    size_t body_len;
    const char *range;           /* "bytes=0-99", "bytes=-1024" or NULL */
    const char *if_match;        /* ETag or NULL */
    int if_none_match;           /* 1: If-None-Match: * (create only) */
    int idempotent;              /* 1: safe to repeat after a failure that reached the server */
    int error_in_200;            /* 1: a 200 whose body is an <Error> is a 500 (CompleteMultipartUpload) */
    st_buf *out;                 /* the 2xx body is appended here; NULL: dropped */
} s3_request;

typedef struct s3_response {
    long status;                 /* last HTTP status, 0 when no answer */
    int64_t content_length;      /* -1 unknown */
    int64_t mtime_ms;            /* Last-Modified, -1 unknown */
    int64_t total_size;          /* the "/total" of Content-Range, -1 none */
    char etag[128];
    char code[64];               /* S3 error Code of the last answer, "" none */
    int attempts;
} s3_response;

/* Runs the request with retries. ST_OK for a 2xx answer; otherwise an error naming
 * s3://bucket/key, the method, the HTTP status and S3's Code and Message:
 * ST_ERR_NOTFOUND (404, except NoSuchBucket: ST_ERR_IO), ST_ERR_CONFLICT (412),
 * ST_ERR_DENIED (403: credentials, clock skew, policy), ST_ERR_AMBIGUOUS (see above;
 * also 409 to an If-None-Match request), ST_ERR_IO otherwise. resp is always filled. */
st_code s3_client_do(s3_client *c, const s3_request *r, s3_response *resp, st_err *e);

#endif
