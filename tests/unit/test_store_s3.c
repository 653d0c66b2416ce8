/* test_store_s3.c — the parts of the S3 backend that need no server (store/s3_internal.h):
 * the XML parser and the documents read with it (listings, uploads, errors), hostile and
 * truncated XML; locations, key encoding, URLs in both addressing styles, canonical query
 * strings; settings from the AWS_* variables and -S options. The requests themselves are
 * tested against a real server: tests/integration/test_s3.py. */
#include "check.h"
#include "store/s3_internal.h"
#include "store/store.h"
#include "util/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ XML */

/* Records every callback as "path=text\n". */
static int record(void *arg, const char *path, const char *text, size_t len)
{
    st_buf *b = arg;
    CHECK(strlen(text) == len); /* NUL-terminated, no NUL inside for these documents */
    st_buf_printf(b, "%s=%.*s\n", path, (int)len, text);
    return 0;
}

static const char *parse_to(st_buf *b, const char *xml, st_code *rc, st_err *e)
{
    st_buf_reset(b);
    *rc = s3_xml_parse(xml, strlen(xml), record, b, e);
    return st_buf_cstr(b);
}

static void test_xml_parser(void)
{
    st_buf b = {0};
    st_err e;
    st_code rc;
    const char *doc =
        "\xEF\xBB\xBF<?xml version='1.0' encoding='UTF-8'?>\n<!-- a comment <Not/> -->\n"
        "<s3:Root xmlns:s3=\"http://s3.amazonaws.com/doc/2006-03-01/\" a='x>y' b = \"1\">\n"
        "  <Key>a &amp; b &lt;c&gt; &quot;q&quot; &apos;s&apos; &#65;&#x42;&#xe9;&#x1F600;</Key>\n"
        "  <Empty/><Empty2 k=\"v\" />\n"
        "  <Nest><Deep>d</Deep>tail</Nest>\n"
        "  <C><![CDATA[<raw> & ]]></C>\n"
        "</s3:Root>\n";
    const char *got = parse_to(&b, doc, &rc, &e);
    CHECK_MSG(rc == ST_OK, "%s", e.msg);
    CHECK_STR(got, "Root/Key=a & b <c> \"q\" 's' AB\xc3\xa9\xf0\x9f\x98\x80\n"
                   "Root/Empty=\n"
                   "Root/Empty2=\n"
                   "Root/Nest/Deep=d\n"
                   "Root/Nest=tail\n"
                   "Root/C=<raw> & \n"
                   "Root=\n  \n  \n  \n  \n\n");

    static const char *const bad[] = {
        "",                                       /* no element */
        "   ",                                    /* no element */
        "<a>",                                    /* unclosed */
        "<a></b>",                                /* mismatched */
        "<a><b></a></b>",                         /* crossed */
        "</a>",                                   /* end without start */
        "<a/><b/>",                               /* two roots */
        "text<a/>",                               /* text outside the root */
        "<a/>text",                               /* text outside the root */
        "<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>", /* DTDs are refused */
        "<a>&unknown;</a>",                       /* unknown entity */
        "<a>&#0;</a>",                            /* NUL */
        "<a>&#xD800;</a>",                        /* surrogate */
        "<a>&#x110000;</a>",                      /* out of range */
        "<a>&#12a;</a>",                          /* bad digit */
        "<a>&#;</a>",                             /* empty */
        "<a>& b</a>",                             /* bare '&' */
        "<a b='1></a>",                           /* unterminated attribute */
        "<a b></a>",                              /* attribute without a value */
        "<a b=1></a>",                            /* unquoted value */
        "<></>",                                  /* no name */
        "<a:></a:>",                              /* prefix without a name */
        "<a><!-- x </a>",                         /* unterminated comment */
        "<a><![CDATA[x</a>",                      /* unterminated CDATA */
        "<?xml version='1.0'",                    /* unterminated declaration */
        "<![CDATA[x]]><a/>",                      /* CDATA outside the root */
        "<a/ >",                                  /* '/' not followed by '>' */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        parse_to(&b, bad[i], &rc, &e);
        CHECK_MSG(rc == ST_ERR_FORMAT, "accepted: %s", bad[i]);
    }
    /* depth: 32 levels are fine, 33 are not */
    st_buf deep = {0};
    for (int i = 0; i < 32; i++) st_buf_append_str(&deep, "<x>");
    for (int i = 0; i < 32; i++) st_buf_append_str(&deep, "</x>");
    CHECK(s3_xml_parse(deep.data, deep.len, NULL, NULL, &e) == ST_OK);
    st_buf_reset(&deep);
    for (int i = 0; i < 33; i++) st_buf_append_str(&deep, "<x>");
    for (int i = 0; i < 33; i++) st_buf_append_str(&deep, "</x>");
    CHECK(s3_xml_parse(deep.data, deep.len, NULL, NULL, &e) == ST_ERR_FORMAT && strstr(e.msg, "deeper"));
    /* a path longer than 512 bytes */
    st_buf_reset(&deep);
    char name[200];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    for (int i = 0; i < 3; i++) st_buf_printf(&deep, "<%s>", name);
    for (int i = 0; i < 3; i++) st_buf_printf(&deep, "</%s>", name);
    CHECK(s3_xml_parse(deep.data, deep.len, NULL, NULL, &e) == ST_ERR_FORMAT && strstr(e.msg, "longer"));
    st_buf_free(&deep);
    /* every prefix of a valid document: an error or a full parse, never a read past the end
     * (ASan watches: each prefix is copied into an exactly sized heap block) */
    size_t n = strlen(doc);
    for (size_t k = 0; k <= n; k++) {
        char *cut = malloc(k ? k : 1);
        memcpy(cut, doc, k);
        st_code r = s3_xml_parse(cut, k, NULL, NULL, &e);
        CHECK_MSG(r == ST_OK || r == ST_ERR_FORMAT, "prefix %zu", k);
        if (k < n - 1) CHECK_MSG(r == ST_ERR_FORMAT, "prefix %zu of %zu accepted", k, n);
        free(cut);
    }
    st_buf_free(&b);
}

static int stop_at_b(void *arg, const char *path, const char *text, size_t len)
{
    (void)arg, (void)text, (void)len;
    return !strcmp(path, "a/b") ? ST_ERR_STATE : 0;
}

static void test_xml_callback_stop(void)
{
    st_err e;
    CHECK(s3_xml_parse("<a><b/><c/></a>", 15, stop_at_b, NULL, &e) == ST_ERR_STATE && strstr(e.msg, "a/b"));
}

/* What s3proxy 4.0 answers, and AWS's documented shape (with a page token). */
static void test_list_documents(void)
{
    st_err e;
    const char *page1 =
        "<?xml version='1.0' encoding='UTF-8'?><ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<Name>smarttech</Name><Prefix>t/</Prefix><KeyCount>3</KeyCount><MaxKeys>2</MaxKeys><ContinuationToken/>"
        "<StartAfter>t/a</StartAfter><Delimiter>/</Delimiter><IsTruncated>true</IsTruncated>"
        "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>"
        "<Contents><Key>t/plain.txt</Key><LastModified>2026-12-01T22:00:43.250Z</LastModified>"
        "<ETag>\"b1946ac92492d2347c6235b4d2611184\"</ETag><Size>6</Size><StorageClass>STANDARD</StorageClass></Contents>"
        "<Contents><Key>t/a &amp; b.txt</Key><LastModified>2026-12-01T22:00:44Z</LastModified><Size>12345678901</Size>"
        "</Contents><CommonPrefixes><Prefix>t/sub/</Prefix></CommonPrefixes></ListBucketResult>";
    s3_list_page p;
    CHECK_MSG(s3_parse_list(page1, strlen(page1), &p, &e) == ST_OK, "%s", e.msg);
    CHECK(p.truncated && p.next_token && !strcmp(p.next_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM="));
    CHECK(p.entries.count == 3);
    if (p.entries.count == 3) {
        CHECK_STR(p.entries.items[0].key, "t/plain.txt");
        CHECK(p.entries.items[0].size == 6 && !p.entries.items[0].is_prefix);
        CHECK(p.entries.items[0].mtime_ms == 1796162443250LL);
        CHECK_STR(p.entries.items[1].key, "t/a & b.txt");
        CHECK(p.entries.items[1].size == 12345678901LL && p.entries.items[1].mtime_ms == 1796162444000LL);
        CHECK_STR(p.entries.items[2].key, "t/sub/");
        CHECK(p.entries.items[2].is_prefix);
    }
    s3_list_page_free(&p);
    const char *empty = "<ListBucketResult><Name>b</Name><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated>"
                        "</ListBucketResult>";
    CHECK(s3_parse_list(empty, strlen(empty), &p, &e) == ST_OK && p.entries.count == 0 && !p.truncated);
    s3_list_page_free(&p);
    static const char *const bad[] = {
        "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>", /* truncated, no token */
        "<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>", /* no key */
        "<ListBucketResult><Contents><Key>k</Key><Size>-1</Size></Contents></ListBucketResult>",
        "<ListBucketResult><Contents><Key>k</Key><Size>1x</Size></Contents></ListBucketResult>",
        "<ListBucketResult><Contents><Key>k</Key><Size>99999999999999999999</Size></Contents></ListBucketResult>",
        "<Error><Code>AccessDenied</Code></Error>", /* not a listing */
        "<ListBucketResult><Contents><Key>k</Key></Contents>", /* cut */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_MSG(s3_parse_list(bad[i], strlen(bad[i]), &p, &e) == ST_ERR_FORMAT, "accepted: %s", bad[i]);
        CHECK(p.entries.count == 0 && !p.next_token); /* nothing half-filled */
    }
}

static void test_upload_documents(void)
{
    st_err e;
    const char *l =
        "<?xml version='1.0' encoding='UTF-8'?><ListMultipartUploadsResult xmlns=\"http://s3.amazonaws.com/doc/"
        "2006-03-01/\"><Bucket>bkt1</Bucket><KeyMarker/><UploadIdMarker/><NextKeyMarker>t/mp</NextKeyMarker>"
        "<NextUploadIdMarker>faf3</NextUploadIdMarker><Delimiter/><Prefix/><MaxUploads>1</MaxUploads>"
        "<IsTruncated>true</IsTruncated><Upload><Key>t/mp</Key><UploadId>faf3</UploadId><Initiator><ID>x</ID>"
        "</Initiator><StorageClass>STANDARD</StorageClass><Initiated>2026-12-01T22:00:50.212Z</Initiated></Upload>"
        "<Upload><Key>t/other</Key><UploadId>u2</UploadId></Upload></ListMultipartUploadsResult>";
    s3_uploads_page u;
    CHECK_MSG(s3_parse_uploads(l, strlen(l), &u, &e) == ST_OK, "%s", e.msg);
    CHECK(u.count == 2 && u.truncated);
    if (u.count == 2) {
        CHECK_STR(u.items[0].key, "t/mp");
        CHECK_STR(u.items[0].upload_id, "faf3");
        CHECK(u.items[0].initiated_ms == 1796162450212LL);
        CHECK(u.items[1].initiated_ms == -1); /* unknown age: never purged */
    }
    CHECK(u.next_key_marker && !strcmp(u.next_key_marker, "t/mp"));
    CHECK(u.next_upload_id_marker && !strcmp(u.next_upload_id_marker, "faf3"));
    s3_uploads_page_free(&u);
    const char *nokey = "<ListMultipartUploadsResult><Upload><UploadId>x</UploadId></Upload></ListMultipartUploadsResult>";
    CHECK(s3_parse_uploads(nokey, strlen(nokey), &u, &e) == ST_ERR_FORMAT && u.count == 0);

    const char *init = "<?xml version='1.0' encoding='UTF-8'?><InitiateMultipartUploadResult xmlns=\"http://s3."
                       "amazonaws.com/doc/2006-03-01/\"><Bucket>smarttech</Bucket><Key>t/mp</Key><UploadId>b092-93"
                       "</UploadId></InitiateMultipartUploadResult>";
    char *id = s3_parse_upload_id(init, strlen(init), &e);
    CHECK(id && !strcmp(id, "b092-93"));
    free(id);
    CHECK(!s3_parse_upload_id("<InitiateMultipartUploadResult/>", 32, &e) && e.code == ST_ERR_FORMAT);
    CHECK(!s3_parse_upload_id("<x", 2, &e));

    char code[64], msg[128];
    const char *err = "<?xml version='1.0' encoding='UTF-8'?><Error><Code>PreconditionFailed</Code><Message>At least "
                      "one of the preconditions you specified did not hold.</Message><RequestId>73</RequestId></Error>";
    CHECK(s3_parse_error(err, strlen(err), code, sizeof code, msg, sizeof msg) == 1);
    CHECK_STR(code, "PreconditionFailed");
    CHECK_STR(msg, "At least one of the preconditions you specified did not hold.");
    char small[8];
    CHECK(s3_parse_error(err, strlen(err), small, sizeof small, msg, sizeof msg) == 1 && !strcmp(small, "Precond"));
    CHECK(s3_parse_error("<CompleteMultipartUploadResult/>", 32, code, sizeof code, msg, sizeof msg) == 0 && !code[0]);
    CHECK(s3_parse_error("not xml", 7, code, sizeof code, msg, sizeof msg) == 0 && !code[0] && !msg[0]);
    CHECK(s3_parse_error("", 0, code, sizeof code, msg, sizeof msg) == 0);
    CHECK(s3_parse_error("<Error><Code>X</Code>", 21, code, sizeof code, msg, sizeof msg) == 0 && !code[0]);
}

/* ------------------------------------------------------------------ addressing */

static void test_locations(void)
{
    st_err e;
    char *b, *p;
    static const struct {
        const char *loc, *bucket, *prefix;
    } good[] = {
        {"bkt", "bkt", ""},
        {"bkt/", "bkt", ""},
        {"bkt/t/silver", "bkt", "t/silver/"},
        {"bkt/t/silver/", "bkt", "t/silver/"},
        {"my.bucket-1/a b/é", "my.bucket-1", "a b/é/"},
        {"Old_Bucket/x", "Old_Bucket", "x/"},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        CHECK_MSG(s3_location_parse(good[i].loc, &b, &p, &e) == ST_OK, "%s: %s", good[i].loc, e.msg);
        if (b) CHECK_STR(b, good[i].bucket);
        if (p) CHECK_STR(p, good[i].prefix);
        free(b);
        free(p);
    }
    static const char *const bad[] = {"", "/x", "bkt//x", "bkt/a//b", "bkt/./x", "bkt/a/..", "b?k/x", "b k"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_MSG(s3_location_parse(bad[i], &b, &p, &e) == ST_ERR_ARG, "accepted: '%s'", bad[i]);
        CHECK(!b && !p);
    }
    CHECK(s3_bucket_dns_safe("smarttech", 1) && s3_bucket_dns_safe("a-b.c", 0));
    CHECK(!s3_bucket_dns_safe("a-b.c", 1));   /* *.s3.amazonaws.com certificates cover one label */
    CHECK(!s3_bucket_dns_safe("Upper", 0) && !s3_bucket_dns_safe("a_b", 0) && !s3_bucket_dns_safe("ab", 0));
    CHECK(!s3_bucket_dns_safe("-ab", 0) && !s3_bucket_dns_safe("a..b", 0) && !s3_bucket_dns_safe("10.0.0.1", 0));
}

static void test_encoding(void)
{
    st_buf b = {0};
    const char *k = "event_date=2026-11-26/part 1+\xc3\xa9~x_y.z-%/";
    s3_uri_encode(&b, k, strlen(k), 1);
    CHECK_STR(st_buf_cstr(&b), "event_date%3D2026-11-26/part%201%2B%C3%A9~x_y.z-%25/");
    st_buf_reset(&b);
    s3_uri_encode(&b, k, strlen(k), 0);
    CHECK_STR(st_buf_cstr(&b), "event_date%3D2026-11-26%2Fpart%201%2B%C3%A9~x_y.z-%25%2F");
    st_buf_reset(&b);
    /* sorted by name, every name and value encoded, empty values as "name=" */
    s3_param q[] = {{"prefix", "t/a b"}, {"list-type", "2"}, {"uploads", ""}, {"delimiter", "/"},
                    {"continuation-token", "a+b/c="}, {"start-after", NULL}};
    s3_query(&b, q, sizeof q / sizeof q[0]);
    CHECK_STR(st_buf_cstr(&b),
              "continuation-token=a%2Bb%2Fc%3D&delimiter=%2F&list-type=2&prefix=t%2Fa%20b&start-after=&uploads=");
    st_buf_free(&b);
}

static void test_urls(void)
{
    s3_config c = {0};
    c.endpoint = "http://localhost:9000";
    char *u;
#define URL_IS(bucket, key, query, want)                 \
    u = s3_url(&c, bucket, key, query);                  \
    CHECK_STR(u, want);                                  \
    free(u)
    URL_IS("smarttech", "t/a b.json", NULL, "http://smarttech.localhost:9000/t/a%20b.json");
    URL_IS("smarttech", NULL, "list-type=2", "http://smarttech.localhost:9000/?list-type=2");
    URL_IS("smarttech", "", NULL, "http://smarttech.localhost:9000/");
    URL_IS("Old_Bucket", "k", NULL, "http://localhost:9000/Old_Bucket/k"); /* not a host name label */
    c.path_style = 1;
    URL_IS("smarttech", "t/a b.json", "uploadId=x", "http://localhost:9000/smarttech/t/a%20b.json?uploadId=x");
    URL_IS("smarttech", NULL, "list-type=2", "http://localhost:9000/smarttech?list-type=2");
    c.path_style = 0;
    c.endpoint = "http://127.0.0.1:9000";
    URL_IS("smarttech", "k", NULL, "http://127.0.0.1:9000/smarttech/k"); /* an address has no sub-domains */
    c.endpoint = "http://[::1]:9000";
    URL_IS("smarttech", "k", NULL, "http://[::1]:9000/smarttech/k");
    c.endpoint = "https://s3.eu-west-1.amazonaws.com";
    URL_IS("my-data", "x/y", NULL, "https://my-data.s3.eu-west-1.amazonaws.com/x/y");
    URL_IS("my.data", "x/y", NULL, "https://s3.eu-west-1.amazonaws.com/my.data/x/y"); /* TLS: path style */
#undef URL_IS
}

/* ------------------------------------------------------------------ settings */

static void clear_env(void)
{
    static const char *const vars[] = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                                       "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
                                       "AWS_CA_BUNDLE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) unsetenv(vars[i]);
    st_store_clear_options();
}

static void test_config(void)
{
    st_err e;
    s3_config c;
    clear_env();
    CHECK_MSG(s3_config_load(&c, &e) == ST_OK, "%s", e.msg);
    CHECK_STR(c.endpoint, "https://s3.us-east-1.amazonaws.com");
    CHECK_STR(c.region, "us-east-1");
    CHECK(!c.access_key && !c.secret_key && !c.path_style && c.verify_tls && c.part_size == 8u << 20);
    s3_config_free(&c);

    setenv("AWS_DEFAULT_REGION", "eu-west-3", 1);
    CHECK(s3_config_load(&c, &e) == ST_OK && !strcmp(c.endpoint, "https://s3.eu-west-3.amazonaws.com"));
    s3_config_free(&c);
    setenv("AWS_REGION", "us-west-2", 1); /* AWS_REGION wins over AWS_DEFAULT_REGION */
    setenv("AWS_ENDPOINT_URL", "http://minio:9000/", 1);
    setenv("AWS_ACCESS_KEY_ID", "AKID", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "SECRET", 1);
    setenv("AWS_SESSION_TOKEN", "TOKEN", 1);
    CHECK(s3_config_load(&c, &e) == ST_OK);
    CHECK_STR(c.region, "us-west-2");
    CHECK_STR(c.endpoint, "http://minio:9000");
    CHECK_STR(c.access_key, "AKID");
    CHECK_STR(c.secret_key, "SECRET");
    CHECK_STR(c.session_token, "TOKEN");
    s3_config_free(&c);
    setenv("AWS_ENDPOINT_URL_S3", "https://ceph.example", 1); /* the service-specific one wins */
    CHECK(s3_config_load(&c, &e) == ST_OK && !strcmp(c.endpoint, "https://ceph.example"));
    s3_config_free(&c);

    /* options win over the environment */
    CHECK(st_store_set_option_arg("endpoint=http://localhost:9000", &e) == ST_OK);
    CHECK(st_store_set_option("path_style", "true", &e) == ST_OK);
    CHECK(st_store_set_option("region", "eu-central-1", &e) == ST_OK);
    CHECK(st_store_set_option("part_size", "16MiB", &e) == ST_OK);
    CHECK(st_store_set_option("retries", "3", &e) == ST_OK);
    CHECK(st_store_set_option("connect_timeout", "2s", &e) == ST_OK);
    CHECK(st_store_set_option("secret_access_key", "OTHER", &e) == ST_OK);
    CHECK(s3_config_load(&c, &e) == ST_OK);
    CHECK_STR(c.endpoint, "http://localhost:9000");
    CHECK_STR(c.region, "eu-central-1");
    CHECK_STR(c.secret_key, "OTHER");
    CHECK(c.path_style && c.part_size == 16u << 20 && c.max_attempts == 3 && c.connect_timeout_ms == 2000);
    s3_config_free(&c);

    /* bad values are refused when set, naming the key */
    static const char *const bad[] = {"path_style=maybe", "part_size=1MiB", "part_size=6TiB", "retries=0",
                                      "retries=x", "connect_timeout=forever", "endpoint=localhost:9000",
                                      "nosuch=1", "=x", "novalue"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_MSG(st_store_set_option_arg(bad[i], &e) == ST_ERR_ARG, "accepted: %s", bad[i]);
    CHECK(st_store_set_option_arg("nosuch=1", &e) == ST_ERR_ARG && strstr(e.msg, "endpoint") && strstr(e.msg, "nosuch"));

    /* inconsistent or malformed settings fail at open, naming the variable */
    clear_env();
    setenv("AWS_ACCESS_KEY_ID", "AKID", 1);
    CHECK(s3_config_load(&c, &e) == ST_ERR_ARG && strstr(e.msg, "AWS_SECRET_ACCESS_KEY"));
    clear_env();
    setenv("AWS_ENDPOINT_URL", "http://host:9000/some/path", 1);
    CHECK(s3_config_load(&c, &e) == ST_ERR_ARG && strstr(e.msg, "no path"));
    setenv("AWS_ENDPOINT_URL", "ftp://host", 1);
    CHECK(s3_config_load(&c, &e) == ST_ERR_ARG);
    clear_env();
    setenv("AWS_REGION", "eu west", 1);
    CHECK(s3_config_load(&c, &e) == ST_ERR_ARG && strstr(e.msg, "region"));
    clear_env();

    st_buf help = {0};
    st_store_options_help(&help);
    CHECK(strstr(st_buf_cstr(&help), "path_style") && strstr(st_buf_cstr(&help), "part_size"));
    st_buf_free(&help);
}

static void test_open(void)
{
    st_err e;
    st_store *s = NULL;
    clear_env();
    CHECK_MSG(st_store_open("s3://smarttech/t/silver_delta/", &s, &e) == ST_OK, "%s", e.msg);
    if (s) CHECK_STR(st_store_root(s), "s3://smarttech/t/silver_delta");
    st_store_close(s);
    CHECK(st_store_open("s3a://smarttech", &s, &e) == ST_OK && !strcmp(st_store_root(s), "s3://smarttech"));
    st_store_close(s);
    CHECK(st_store_open("s3://", &s, &e) == ST_ERR_ARG && !s);
    CHECK(st_store_open("s3://b//x", &s, &e) == ST_ERR_ARG && strstr(e.msg, "b//x"));
    setenv("AWS_ACCESS_KEY_ID", "only-the-id", 1);
    CHECK(st_store_open("s3://b/x", &s, &e) == ST_ERR_ARG && !s);
    clear_env();
}

int main(void)
{
    test_xml_parser();
    test_xml_callback_stop();
    test_list_documents();
    test_upload_documents();
    test_locations();
    test_encoding();
    test_urls();
    test_config();
    test_open();
    return CHECK_DONE();
}
