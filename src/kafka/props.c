/* props.c — ordered librdkafka properties (the CLI's -X key=value) and the shared conf helpers. */
#include <stdlib.h>
#include <string.h>

#include "kafka/kafka.h"
#include "kafka/kafka_internal.h"
#include "util/buf.h"

struct kafka_props {
    char **keys;
    char **values;
    size_t n, cap;
};

/* Empty list; O(1). */
kafka_props *kafka_props_new(void)
{
    return st_xcalloc(1, sizeof(kafka_props));
}

/* Frees every key and value. NULL-safe. */
void kafka_props_destroy(kafka_props *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->n; i++) {
        free(p->keys[i]);
        free(p->values[i]);
    }
    free(p->keys);
    free(p->values);
    free(p);
}

/* Index of key or -1; linear scan (lists hold a handful of entries). */
static long props_find(const kafka_props *p, const char *key)
{
    for (size_t i = 0; i < p->n; i++)
        if (!strcmp(p->keys[i], key)) return (long)i;
    return -1;
}

/* Replaces an existing key's value in place (keeps its position), else appends. */
void kafka_props_set(kafka_props *p, const char *key, const char *value)
{
    long i = props_find(p, key);
    if (i >= 0) {
        free(p->values[i]);
        p->values[i] = st_xstrdup(value);
        return;
    }
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 8;
        p->keys = st_xrealloc(p->keys, p->cap * sizeof *p->keys);
        p->values = st_xrealloc(p->values, p->cap * sizeof *p->values);
    }
    p->keys[p->n] = st_xstrdup(key);
    p->values[p->n] = st_xstrdup(value);
    p->n++;
}

/* Splits at the first '='; an empty value is allowed (librdkafka decides if it is valid). */
st_code kafka_props_add_arg(kafka_props *p, const char *kv, st_err *e)
{
    const char *eq = kv ? strchr(kv, '=') : NULL;
    if (!eq || eq == kv)
        return st_err_set(e, ST_ERR_ARG, "invalid -X property '%s': expected key=value", kv ? kv : "");
    char *key = st_xstrndup(kv, (size_t)(eq - kv));
    kafka_props_set(p, key, eq + 1);
    free(key);
    return ST_OK;
}

/* Linear lookup; NULL p or unknown key gives NULL. */
const char *kafka_props_get(const kafka_props *p, const char *key)
{
    if (!p) return NULL;
    long i = props_find(p, key);
    return i >= 0 ? p->values[i] : NULL;
}

/* Applies in insertion order; stops at the first property librdkafka rejects. */
st_code kafka_props_apply(const kafka_props *p, rd_kafka_conf_t *conf, st_err *e)
{
    if (!p) return ST_OK;
    for (size_t i = 0; i < p->n; i++) {
        char why[512];
        if (rd_kafka_conf_set(conf, p->keys[i], p->values[i], why, sizeof why) != RD_KAFKA_CONF_OK)
            return st_err_set(e, ST_ERR_ARG, "invalid Kafka property %s=%s: %s", p->keys[i],
                              p->values[i], why);
    }
    return ST_OK;
}

/* Drops librdkafka's log lines: client errors reach us through error_cb instead. */
static void quiet_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    (void)level;
    (void)fac;
    (void)buf;
}

/* Shared by producer, admin and consumer: brokers, then defaults, then -X (which wins). */
st_code kafka_conf_base(rd_kafka_conf_t **out, const char *brokers, const kafka_props *extra,
                        const char *const *defaults, st_err *e)
{
    char why[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    *out = NULL;
    if (!brokers || !*brokers) {
        rd_kafka_conf_destroy(conf);
        return st_err_set(e, ST_ERR_ARG, "no Kafka brokers given (--brokers host:port)");
    }
    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, why, sizeof why) != RD_KAFKA_CONF_OK)
        goto bad;
    for (size_t i = 0; defaults && defaults[i]; i += 2)
        if (rd_kafka_conf_set(conf, defaults[i], defaults[i + 1], why, sizeof why) != RD_KAFKA_CONF_OK)
            goto bad;
    if (kafka_props_apply(extra, conf, e) != ST_OK) {
        rd_kafka_conf_destroy(conf);
        return ST_ERR_ARG;
    }
    if (!kafka_props_get(extra, "debug")) rd_kafka_conf_set_log_cb(conf, quiet_log_cb);
    *out = conf;
    return ST_OK;
bad:
    rd_kafka_conf_destroy(conf);
    return st_err_set(e, ST_ERR_ARG, "cannot configure Kafka client for %s: %s", brokers, why);
}

/* Deep copy in the same order; O(n). */
kafka_props *kafka_props_clone(const kafka_props *p)
{
    kafka_props *c = kafka_props_new();
    kafka_props_merge(c, p);
    return c;
}

/* O(|dst| x |src|): the lists hold a handful of entries. */
void kafka_props_merge(kafka_props *dst, const kafka_props *src)
{
    for (size_t i = 0; src && i < src->n; i++) kafka_props_set(dst, src->keys[i], src->values[i]);
}
