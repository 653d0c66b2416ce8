/* mqtt_client.c — one MQTT 5 connection on libmosquitto, driven by the caller's loop, with writes
 * that can be held until the caller allows them (see mqtt.h for why). */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "mqtt/mqtt.h"
#include "util/buf.h"

#define DEFAULT_KEEPALIVE_S 30

struct mqtt_client {
    const mqtt_client_config *cfg;
    struct mosquitto *m;
    mosquitto_property *connect_props;
    char where[300];             /* "mqtt://user@host:1883", for messages */
    mqtt_state state;
    uint64_t epoch;
    size_t nread;                /* messages handed over by the current mqtt_client_run */
    int fatal;                   /* a refusal retrying cannot fix happened */
    char fatal_msg[ST_ERR_MSG_MAX];
    char last_error[900];
    char last_log[400];          /* latest error/warning line of libmosquitto (OpenSSL reasons) */
};

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

/* Once per process; mosquitto_lib_cleanup is left to exit (other clients may still run). */
static void lib_init(void)
{
    mosquitto_lib_init();
}

static void notice(mqtt_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void notice(mqtt_client *c, const char *fmt, ...)
{
    if (!c->cfg->on_notice) return;
    char line[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    c->cfg->on_notice(line, c->cfg->opaque);
}

static void set_fatal(mqtt_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_fatal(mqtt_client *c, const char *fmt, ...)
{
    if (c->fatal) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->fatal_msg, sizeof c->fatal_msg, fmt, ap);
    va_end(ap);
    c->fatal = 1;
}

/* The connection is over (whichever way): a new epoch begins, held packets are gone with it. */
static void set_disconnected(mqtt_client *c, const char *why)
{
    if (why) snprintf(c->last_error, sizeof c->last_error, "%s", why);
    if (c->state != MQTT_DISCONNECTED) c->epoch++;
    c->state = MQTT_DISCONNECTED;
}

/* libmosquitto's message for rc without its final '.', plus its latest error line (an OpenSSL
 * reason such as "tlsv13 alert certificate required") when it logged one on this connection. */
static void describe_rc(const mqtt_client *c, int rc, char *out, size_t n)
{
    const char *s = rc == MOSQ_ERR_ERRNO ? strerror(errno)
                    : rc == MOSQ_ERR_KEEPALIVE ? "no answer within the keep-alive" : mosquitto_strerror(rc);
    size_t len = strlen(s);
    if (len && s[len - 1] == '.') len--;
    const char *hint = "";
    if (!c->last_log[0] && c->state == MQTT_CONNECTING && c->cfg->url->tls)
        hint = " (the broker ended the TLS connection before accepting it: does it want a client certificate, "
               "--mqtt-cert and --mqtt-key?)";
    snprintf(out, n, "%.*s%s%s%s%s", (int)len, s, c->last_log[0] ? " (" : "", c->last_log, c->last_log[0] ? ")" : "",
             hint);
}

/* ------------------------------------------------------------- callbacks */

static void on_log(struct mosquitto *m, void *obj, int level, const char *line)
{
    (void)m;
    mqtt_client *c = obj;
    if (level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING)) snprintf(c->last_log, sizeof c->last_log, "%s", line);
}

/* CONNACK refusals that a retry cannot fix stop the caller; the others (server busy, shutting
 * down, unavailable) are reported and retried like a lost connection. */
static void on_connect(struct mosquitto *m, void *obj, int rc, int flags, const mosquitto_property *props)
{
    (void)props;
    mqtt_client *c = obj;
    const mqtt_client_config *cfg = c->cfg;
    if (rc != 0) {
        const char *hint = "";
        switch (rc) {
        case MQTT_RC_BAD_USERNAME_OR_PASSWORD: hint = " (check the user and password of the broker URL)"; break;
        case MQTT_RC_NOT_AUTHORIZED:
            hint = " (check the user and password of the broker URL, and the broker's ACL for this user)";
            break;
        case MQTT_RC_CLIENTID_NOT_VALID: hint = " (choose another --client-id)"; break;
        case MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION: hint = " (the broker does not speak MQTT 5)"; break;
        default: break;
        }
        snprintf(c->last_error, sizeof c->last_error, "%s refused the connection: %s", c->where,
                 mosquitto_reason_string(rc));
        if (rc == MQTT_RC_BAD_USERNAME_OR_PASSWORD || rc == MQTT_RC_NOT_AUTHORIZED || rc == MQTT_RC_BANNED ||
            rc == MQTT_RC_CLIENTID_NOT_VALID || rc == MQTT_RC_BAD_AUTHENTICATION_METHOD ||
            rc == MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION)
            set_fatal(c, "%s%s", c->last_error, hint);
        return;
    }
    c->state = MQTT_CONNECTED;
    notice(c, "connected to %s (%s session%s)", c->where, cfg->persistent ? "persistent" : "clean",
           cfg->persistent ? ((flags & 1) ? ", resumed" : ", new") : "");
    if (!cfg->ntopics) return;
    /* every time: a new session has no subscriptions; on a resumed one the same filters replace
     * themselves, and SEND_RETAIN_NEW keeps retained messages from coming again */
    int mrc = mosquitto_subscribe_multiple(m, NULL, (int)cfg->ntopics, (char *const *)cfg->topics, cfg->qos,
                                           MQTT_SUB_OPT_SEND_RETAIN_NEW, NULL);
    if (mrc != MOSQ_ERR_SUCCESS) set_fatal(c, "cannot subscribe on %s: %s", c->where, mosquitto_strerror(mrc));
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int n, const int *granted,
                         const mosquitto_property *props)
{
    (void)m;
    (void)mid;
    (void)props;
    mqtt_client *c = obj;
    const mqtt_client_config *cfg = c->cfg;
    for (int i = 0; i < n && (size_t)i < cfg->ntopics; i++) {
        if (granted[i] >= 0x80) {
            set_fatal(c, "%s refused the subscription to '%s': %s (check the broker's ACL for this user)", c->where,
                      cfg->topics[i], mosquitto_reason_string(granted[i]));
            return;
        }
        if (granted[i] < cfg->qos)
            notice(c, "warning: %s granted QoS %d for '%s' (asked %d): messages may be lost", c->where, granted[i],
                   cfg->topics[i], cfg->qos);
    }
    char list[600] = "";
    size_t len = 0;
    for (size_t i = 0; i < cfg->ntopics && len < sizeof list - 80; i++)
        len += (size_t)snprintf(list + len, sizeof list - len, "%s'%s'", i ? ", " : "", cfg->topics[i]);
    notice(c, "subscribed to %s (QoS %d)", list, cfg->qos);
}

static void on_disconnect(struct mosquitto *m, void *obj, int rc, const mosquitto_property *props)
{
    (void)m;
    (void)props;
    mqtt_client *c = obj;
    char why[900];
    if (c->last_error[0] && c->state == MQTT_CONNECTING)
        snprintf(why, sizeof why, "%s", c->last_error); /* the CONNACK refusal says more */
    else {
        char r[600];
        describe_rc(c, rc, r, sizeof r);
        snprintf(why, sizeof why, "connection to %s lost: %.560s", c->where, r);
    }
    set_disconnected(c, why);
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg,
                       const mosquitto_property *props)
{
    (void)m;
    (void)props;
    mqtt_client *c = obj;
    c->nread++;
    if (!c->cfg->on_message) return;
    mqtt_message mm = {.topic = msg->topic,
                       .topic_len = msg->topic ? strlen(msg->topic) : 0,
                       .payload = msg->payload,
                       .len = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0,
                       .qos = msg->qos,
                       .retain = msg->retain};
    c->cfg->on_message(&mm, c->cfg->opaque);
}

static void on_publish(struct mosquitto *m, void *obj, int mid, int rc, const mosquitto_property *props)
{
    (void)m;
    (void)rc;
    (void)props;
    mqtt_client *c = obj;
    if (c->cfg->on_published) c->cfg->on_published(mid, c->cfg->opaque);
}

/* ------------------------------------------------------------------ set-up */

/* A fresh libmosquitto object with every option applied (also after mqtt_client_drop). */
static st_code setup(mqtt_client *c, st_err *e)
{
    const mqtt_client_config *cfg = c->cfg;
    c->m = mosquitto_new(cfg->client_id, !cfg->persistent, c);
    if (!c->m) return st_err_set(e, ST_ERR_NOMEM, "cannot create an MQTT client: %s", strerror(errno));
    struct mosquitto *m = c->m;
    mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
    mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);
    if (cfg->receive_max > 0) mosquitto_int_option(m, MOSQ_OPT_RECEIVE_MAXIMUM, cfg->receive_max);
    /* held writes: a queued packet (a PUBACK) goes out only through mosquitto_loop_write */
    if (cfg->hold_writes) mosquitto_threaded_set(m, true);
    mosquitto_log_callback_set(m, on_log);
    mosquitto_connect_v5_callback_set(m, on_connect);
    mosquitto_subscribe_v5_callback_set(m, on_subscribe);
    mosquitto_disconnect_v5_callback_set(m, on_disconnect);
    mosquitto_message_v5_callback_set(m, on_message);
    mosquitto_publish_v5_callback_set(m, on_publish);
    const mqtt_url *u = cfg->url;
    int rc = MOSQ_ERR_SUCCESS;
    if (u->user) rc = mosquitto_username_pw_set(m, u->user, u->password);
    if (rc == MOSQ_ERR_SUCCESS && u->tls) {
        if (cfg->cafile || cfg->certfile)
            rc = mosquitto_tls_set(m, cfg->cafile, cfg->cafile ? NULL : "/etc/ssl/certs", cfg->certfile, cfg->keyfile,
                                   NULL);
        else
            rc = mosquitto_int_option(m, MOSQ_OPT_TLS_USE_OS_CERTS, 1);
        if (rc != MOSQ_ERR_SUCCESS)
            return st_err_set(e, ST_ERR_ARG, "TLS set-up for %s failed: %s (are --mqtt-cafile, --mqtt-cert and "
                              "--mqtt-key readable PEM files?)", c->where, mosquitto_strerror(rc));
    }
    if (rc != MOSQ_ERR_SUCCESS) return st_err_set(e, ST_ERR_ARG, "MQTT client set-up: %s", mosquitto_strerror(rc));
    return ST_OK;
}

/* Readable file check with a message naming the option. */
static st_code check_file(const char *path, const char *opt, st_err *e)
{
    if (path && access(path, R_OK) != 0)
        return st_err_set(e, ST_ERR_ARG, "%s %s: %s", opt, path, strerror(errno));
    return ST_OK;
}

st_code mqtt_client_new(mqtt_client **out, const mqtt_client_config *cfg, st_err *e)
{
    *out = NULL;
    pthread_once(&lib_once, lib_init);
    const mqtt_url *u = cfg->url;
    if (!u || !u->host) return st_err_set(e, ST_ERR_ARG, "no MQTT broker given (--mqtt mqtt://host:1883)");
    if (cfg->qos < 0 || cfg->qos > 1)
        return st_err_set(e, ST_ERR_ARG, "QoS %d is not supported: use 0 (at most once) or 1 (at least once)",
                          cfg->qos);
    if (cfg->persistent && (!cfg->client_id || !*cfg->client_id))
        return st_err_set(e, ST_ERR_ARG, "a persistent MQTT session needs a fixed client id (--client-id)");
    if (!u->tls && (cfg->cafile || cfg->certfile || cfg->keyfile))
        return st_err_set(e, ST_ERR_ARG, "--mqtt-cafile, --mqtt-cert and --mqtt-key need an mqtts:// broker URL");
    if (!cfg->certfile != !cfg->keyfile)
        return st_err_set(e, ST_ERR_ARG, "--mqtt-cert and --mqtt-key go together");
    if (cfg->receive_max < 0 || cfg->receive_max > 65535)
        return st_err_set(e, ST_ERR_ARG, "MQTT receive maximum %d is outside 1..65535", cfg->receive_max);
    st_code rc;
    if ((rc = check_file(cfg->cafile, "--mqtt-cafile", e)) || (rc = check_file(cfg->certfile, "--mqtt-cert", e)) ||
        (rc = check_file(cfg->keyfile, "--mqtt-key", e)))
        return rc;
    for (size_t i = 0; i < cfg->ntopics; i++)
        if (mosquitto_sub_topic_check(cfg->topics[i]) != MOSQ_ERR_SUCCESS)
            return st_err_set(e, ST_ERR_ARG, "'%s' is not a valid MQTT topic filter ('+' and '#' only as whole "
                              "levels, '#' last)", cfg->topics[i]);

    mqtt_client *c = st_xcalloc(1, sizeof *c);
    c->cfg = cfg;
    c->epoch = 1;
    mqtt_url_describe(u, c->where, sizeof c->where);
    /* a persistent session never expires on its own (MQTT 5 needs it said: 0 ends it at disconnect) */
    if (cfg->persistent)
        mosquitto_property_add_int32(&c->connect_props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, UINT32_MAX);
    if ((rc = setup(c, e)) != ST_OK) {
        mqtt_client_destroy(c);
        return rc;
    }
    *out = c;
    return ST_OK;
}

void mqtt_client_destroy(mqtt_client *c)
{
    if (!c) return;
    if (c->m) mosquitto_destroy(c->m);
    mosquitto_property_free_all(&c->connect_props);
    free(c);
}

/* ------------------------------------------------------------- connection */

st_code mqtt_client_connect(mqtt_client *c, st_err *e)
{
    if (c->state != MQTT_DISCONNECTED) mqtt_client_drop(c);
    c->last_error[0] = c->last_log[0] = '\0';
    int keepalive = c->cfg->keepalive_s > 0 ? c->cfg->keepalive_s : DEFAULT_KEEPALIVE_S;
    /* connect_bind_v5 drops what an earlier connection left queued before it connects */
    int rc = mosquitto_connect_bind_v5(c->m, c->cfg->url->host, c->cfg->url->port, keepalive, NULL,
                                       c->connect_props);
    if (rc == MOSQ_ERR_SUCCESS) {
        c->state = MQTT_CONNECTING;
        return ST_OK;
    }
    if (rc == MOSQ_ERR_TLS) {
        snprintf(c->last_error, sizeof c->last_error, "TLS with %s failed: %s", c->where,
                 c->last_log[0] ? c->last_log : "handshake error");
        return st_err_set(e, ST_ERR_ARG, "%s (check --mqtt-cafile: the broker's certificate must be signed by it "
                          "and name the host)", c->last_error);
    }
    char why[600];
    describe_rc(c, rc, why, sizeof why);
    snprintf(c->last_error, sizeof c->last_error, "cannot connect to %s: %.560s", c->where, why);
    return st_err_set(e, rc == MOSQ_ERR_INVAL ? ST_ERR_ARG : ST_ERR_IO, "%s", c->last_error);
}

/* mosquitto_disconnect would queue a DISCONNECT behind the held packets and write them all: a
 * new libmosquitto object instead closes the socket with nothing written. */
void mqtt_client_drop(mqtt_client *c)
{
    if (c->m) mosquitto_destroy(c->m);
    c->m = NULL;
    set_disconnected(c, "connection dropped by the application");
    st_err e;
    if (setup(c, &e) != ST_OK) set_fatal(c, "%s", e.msg);
}

/* Not mosquitto_disconnect: libmosquitto closes the socket the moment DISCONNECT is written, and
 * closing with unread bytes in our receive buffer (messages the broker sent after the last read)
 * makes the kernel send a RST, on which the broker drops what it has not read yet: the last
 * PUBACKs, whose messages would then come again. So: write what is queued, half-close (FIN after
 * the PUBACKs), read and discard until the broker closes its side, then close. The session stays;
 * the broker sees a close without DISCONNECT (MQTT 5: an unclean one, which matters only for a
 * will message, and we set none). */
void mqtt_client_disconnect(mqtt_client *c, int timeout_ms)
{
    if (c->state == MQTT_DISCONNECTED || !c->m) return;
    int64_t waited = 0;
    for (; waited < timeout_ms && mosquitto_socket(c->m) >= 0 && mosquitto_want_write(c->m); waited += 10) {
        mosquitto_loop_write(c->m, 1);
        if (mosquitto_want_write(c->m)) usleep(10000);
    }
    int fd = mosquitto_socket(c->m);
    if (fd >= 0 && shutdown(fd, SHUT_WR) == 0) {
        char sink[16384];
        for (; waited < timeout_ms; waited += 50) {
            struct pollfd pfd = {.fd = fd, .events = POLLIN};
            if (poll(&pfd, 1, 50) < 0) break;
            if (!pfd.revents) continue;
            ssize_t n = read(fd, sink, sizeof sink);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) break;
        }
    }
    mqtt_client_drop(c);
}

/* After a loop_* call: a lost connection (libmosquitto closed the socket, on_disconnect ran) or a
 * failed TLS handshake (closed without on_disconnect). */
static void after_loop(mqtt_client *c, int rc)
{
    if (rc == MOSQ_ERR_SUCCESS) {
        if (mosquitto_socket(c->m) < 0 && c->state != MQTT_DISCONNECTED)
            set_disconnected(c, "connection closed");
        return;
    }
    if (rc == MOSQ_ERR_TLS) {
        char why[900];
        snprintf(why, sizeof why, "TLS with %s failed: %s", c->where, c->last_log[0] ? c->last_log : "handshake error");
        set_fatal(c, "%s (check --mqtt-cafile, --mqtt-cert, --mqtt-key: the broker's certificate must be signed by "
                  "the CA and name the host)", why);
        set_disconnected(c, why);
        return;
    }
    if (c->state != MQTT_DISCONNECTED) {
        char why[900], r[600];
        describe_rc(c, rc, r, sizeof r);
        snprintf(why, sizeof why, "connection to %s lost: %.560s", c->where, r);
        set_disconnected(c, c->last_error[0] && c->state == MQTT_CONNECTING ? NULL : why);
    }
}

/* Writes first (only what the caller allows), then reads up to the budget, then keep-alive. */
st_code mqtt_client_run(mqtt_client *c, int timeout_ms, size_t max_messages, bool write, size_t *nread, st_err *e)
{
    if (nread) *nread = 0;
    c->nread = 0;
    if (c->state != MQTT_DISCONNECTED && c->m) {
        int fd = mosquitto_socket(c->m);
        if (fd < 0) {
            set_disconnected(c, "connection closed");
        } else {
            if (write && mosquitto_want_write(c->m)) after_loop(c, mosquitto_loop_write(c->m, 1));
            struct pollfd pfd = {.fd = fd, .events = 0};
            if (c->state != MQTT_DISCONNECTED) {
                if (max_messages) pfd.events |= POLLIN;
                if (write && mosquitto_want_write(c->m)) pfd.events |= POLLOUT;
            }
            int n = 0;
            if (pfd.events) {
                n = poll(&pfd, 1, timeout_ms);
            } else if (timeout_ms > 0) {
                poll(NULL, 0, timeout_ms);
            }
            if (n > 0 && max_messages && (pfd.revents & (POLLIN | POLLHUP | POLLERR))) {
                /* loop_read handles one packet per call and returns as soon as a read would block,
                 * leaving errno EAGAIN (2.0's loop.c): that ends the burst without a poll per message */
                for (;;) {
                    errno = 0;
                    int rrc = mosquitto_loop_read(c->m, 1);
                    int drained = errno == EAGAIN || errno == EWOULDBLOCK;
                    after_loop(c, rrc);
                    if (drained || c->state == MQTT_DISCONNECTED || c->nread >= max_messages) break;
                }
            }
            if (n > 0 && write && c->nread == 0 && c->state != MQTT_DISCONNECTED && (pfd.revents & POLLOUT))
                after_loop(c, mosquitto_loop_write(c->m, 1));
            if (c->state != MQTT_DISCONNECTED) after_loop(c, mosquitto_loop_misc(c->m));
        }
    } else if (timeout_ms > 0) {
        poll(NULL, 0, timeout_ms);
    }
    if (nread) *nread = c->nread;
    if (c->fatal) {
        if (c->state != MQTT_DISCONNECTED) mqtt_client_drop(c);
        return st_err_set(e, ST_ERR_ARG, "%s", c->fatal_msg);
    }
    return ST_OK;
}

st_code mqtt_client_publish(mqtt_client *c, const char *topic, const void *payload, size_t len, int qos, int *mid,
                            st_err *e)
{
    if (len > (size_t)MQTT_MAX_PAYLOAD)
        return st_err_set(e, ST_ERR_ARG, "MQTT payload of %zu bytes is over the protocol's limit", len);
    int rc = mosquitto_publish_v5(c->m, mid, topic, (int)len, payload, qos, false, NULL);
    switch (rc) {
    case MOSQ_ERR_SUCCESS: return ST_OK;
    case MOSQ_ERR_NO_CONN:
    case MOSQ_ERR_CONN_LOST:
    case MOSQ_ERR_ERRNO:
        /* QoS 1: kept by libmosquitto and sent again after the reconnect */
        if (qos > 0) return ST_OK;
        return st_err_set(e, ST_ERR_IO, "not connected to %s", c->where);
    case MOSQ_ERR_NOMEM: return st_err_set(e, ST_ERR_NOMEM, "out of memory publishing to %s", c->where);
    default:
        return st_err_set(e, ST_ERR_ARG, "cannot publish to '%s' on %s: %s", topic, c->where, mosquitto_strerror(rc));
    }
}

mqtt_state mqtt_client_state(const mqtt_client *c)
{
    return c->state;
}

uint64_t mqtt_client_epoch(const mqtt_client *c)
{
    return c->epoch;
}

bool mqtt_client_want_write(const mqtt_client *c)
{
    return c->m && c->state != MQTT_DISCONNECTED && mosquitto_want_write(c->m);
}

const char *mqtt_client_last_error(const mqtt_client *c)
{
    return c->last_error;
}
