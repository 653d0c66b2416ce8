/* mqtt_url.c — mqtt://[user[:password]@]host[:port] and mqtts:// (see mqtt.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mqtt/mqtt.h"
#include "util/buf.h"

#define URL_FORM "expected mqtt://[user[:password]@]host[:port] or mqtts://..."

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..n) into a new string; NULL when a '%' is not followed by two hex digits
 * or decodes to NUL (a C string could not carry it). */
static char *percent_decode(const char *s, size_t n)
{
    char *out = st_xmalloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            out[o++] = s[i];
            continue;
        }
        int hi = i + 2 < n ? hex_digit(s[i + 1]) : -1;
        int lo = i + 2 < n ? hex_digit(s[i + 2]) : -1;
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            free(out);
            return NULL;
        }
        out[o++] = (char)(hi << 4 | lo);
        i += 2;
    }
    out[o] = '\0';
    return out;
}

/* Host, port and userinfo are split on the last '@' of the authority, then on the first ':' of
 * the userinfo; [v6] hosts keep their ':' inside the brackets. */
st_code mqtt_url_parse(const char *text, mqtt_url *out, st_err *e)
{
    memset(out, 0, sizeof *out);
    if (!text) return st_err_set(e, ST_ERR_ARG, "no MQTT broker given (%s)", URL_FORM);
    const char *p;
    if (!strncasecmp(text, "mqtt://", 7)) {
        p = text + 7;
    } else if (!strncasecmp(text, "mqtts://", 8)) {
        p = text + 8;
        out->tls = true;
    } else {
        return st_err_set(e, ST_ERR_ARG, "MQTT broker '%s': %s", text, URL_FORM);
    }
    out->port = out->tls ? 8883 : 1883;
    size_t alen = strcspn(p, "/?#");
    const char *rest = p + alen;
    if (*rest && strcmp(rest, "/") != 0)
        return st_err_set(e, ST_ERR_ARG, "MQTT broker '%s': nothing may follow host:port (topics go in "
                          "--mqtt-topic); %s", text, URL_FORM);
    const char *auth_end = p + alen;
    const char *at = NULL;
    for (const char *q = p; q < auth_end; q++)
        if (*q == '@') at = q;
    const char *host = p;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        size_t ulen = colon ? (size_t)(colon - p) : (size_t)(at - p);
        if (ulen == 0) return st_err_set(e, ST_ERR_ARG, "MQTT broker '%s': empty user name; %s", text, URL_FORM);
        out->user = percent_decode(p, ulen);
        if (colon) out->password = percent_decode(colon + 1, (size_t)(at - colon - 1));
        if (!out->user || (colon && !out->password)) {
            mqtt_url_free(out);
            return st_err_set(e, ST_ERR_ARG, "MQTT broker URL: bad %%-escape in the user or password (write '@' as "
                              "%%40, ':' as %%3A, '%%' as %%25)");
        }
        host = at + 1;
    }
    const char *host_end, *port_at = NULL;
    if (*host == '[') {
        const char *close = memchr(host, ']', (size_t)(auth_end - host));
        if (!close) goto bad_host;
        out->host = st_xstrndup(host + 1, (size_t)(close - host - 1));
        host_end = close + 1;
        if (host_end < auth_end) {
            if (*host_end != ':') goto bad_host;
            port_at = host_end + 1;
        }
    } else {
        const char *colon = memchr(host, ':', (size_t)(auth_end - host));
        host_end = colon ? colon : auth_end;
        out->host = st_xstrndup(host, (size_t)(host_end - host));
        if (colon) port_at = colon + 1;
    }
    if (!out->host[0]) goto bad_host;
    for (const char *q = out->host; *q; q++)
        if ((unsigned char)*q <= ' ' || *q == '@' || *q == '[' || *q == ']') goto bad_host;
    if (port_at) {
        long port = 0;
        const char *q = port_at;
        for (; q < auth_end && *q >= '0' && *q <= '9' && port <= 65535; q++) port = port * 10 + (*q - '0');
        if (q != auth_end || q == port_at || port < 1 || port > 65535) {
            mqtt_url_free(out);
            return st_err_set(e, ST_ERR_ARG, "MQTT broker '%s': the port must be a number in 1..65535", text);
        }
        out->port = (int)port;
    }
    return ST_OK;
bad_host:
    mqtt_url_free(out);
    return st_err_set(e, ST_ERR_ARG, "MQTT broker '%s': missing or invalid host; %s", text, URL_FORM);
}

void mqtt_url_free(mqtt_url *u)
{
    if (!u) return;
    free(u->host);
    free(u->user);
    if (u->password) memset(u->password, 0, strlen(u->password));
    free(u->password);
    memset(u, 0, sizeof *u);
}

void mqtt_url_describe(const mqtt_url *u, char *buf, size_t n)
{
    int v6 = u->host && strchr(u->host, ':') != NULL;
    snprintf(buf, n, "%s://%s%s%s%s%s:%d", u->tls ? "mqtts" : "mqtt", u->user ? u->user : "", u->user ? "@" : "",
             v6 ? "[" : "", u->host ? u->host : "", v6 ? "]" : "", u->port);
}
