/* alerts_rules.c — the alert rules: defaults, config-file parser, evaluation. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/alerts.h"
#include "util/fsutil.h"

struct alert_rules {
    alert_rule *items;
    size_t count;
};

static const char default_rules[] =
    "co2_high     co2          above 1000     window         hysteresis 50\n"
    "temperature  temperature  outside 18 26  consecutive 3  hysteresis 0.5\n"
    "humidity     humidity     outside 30 70  window         hysteresis 2\n";

alert_rules *alert_rules_default(void)
{
    alert_rules *r = NULL;
    /* the built-in text is valid by construction */
    if (alert_rules_parse(default_rules, sizeof default_rules - 1, "<defaults>", &r, NULL) != ST_OK)
        r = st_xcalloc(1, sizeof *r);
    return r;
}

void alert_rules_destroy(alert_rules *r)
{
    if (!r) return;
    free(r->items);
    free(r);
}

size_t alert_rules_count(const alert_rules *r) { return r->count; }
const alert_rule *alert_rules_get(const alert_rules *r, size_t i) { return i < r->count ? &r->items[i] : NULL; }

/* Parses a finite number; 0 on success. */
static int parse_num(const char *s, double *v)
{
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    return (*s && !*end && errno == 0 && isfinite(*v)) ? 0 : -1;
}

/* Splits line (modified in place) into at most max whitespace-separated tokens. */
static int tokenize(char *line, char **tok, int max)
{
    int n = 0;
    char *p = line;
    while (*p) {
        while (*p && isspace((unsigned char)*p)) p++;
        if (!*p) break;
        if (n == max) return max + 1;
        tok[n++] = p;
        while (*p && !isspace((unsigned char)*p)) p++;
        if (*p) *p++ = '\0';
    }
    return n;
}

/* A rule name / sensor type: 1..max-1 chars of letters, digits, _ - . */
static int valid_name(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n >= max) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.') return 0;
    return 1;
}

/* Parses one non-comment line into *out; on failure writes the reason into why. */
static int parse_rule(char *line, alert_rule *out, char *why, size_t whylen)
{
    char *t[11];
    int n = tokenize(line, t, 10);
    memset(out, 0, sizeof *out);
    if (n < 5 || n > 10) {
        snprintf(why, whylen, "expected `name sensor_type above|below X | outside LO HI  window | consecutive N "
                              "[hysteresis H]`");
        return -1;
    }
    if (!valid_name(t[0], sizeof out->name)) {
        snprintf(why, whylen, "bad rule name '%s' (letters, digits, _ - . ; at most 63)", t[0]);
        return -1;
    }
    if (!valid_name(t[1], sizeof out->sensor_type)) {
        snprintf(why, whylen, "bad sensor type '%s'", t[1]);
        return -1;
    }
    strcpy(out->name, t[0]);
    strcpy(out->sensor_type, t[1]);
    int i = 3;
    if (!strcmp(t[2], "above") || !strcmp(t[2], "below")) {
        double x;
        if (parse_num(t[3], &x)) {
            snprintf(why, whylen, "bad number '%s'", t[3]);
            return -1;
        }
        out->op = t[2][0] == 'a' ? ALERT_OP_ABOVE : ALERT_OP_BELOW;
        out->lo = out->hi = x;
        i = 4;
    } else if (!strcmp(t[2], "outside")) {
        if (n < 6 || parse_num(t[3], &out->lo) || parse_num(t[4], &out->hi)) {
            snprintf(why, whylen, "`outside` needs two numbers LO HI");
            return -1;
        }
        if (out->lo > out->hi) {
            snprintf(why, whylen, "LO %s is greater than HI %s", t[3], t[4]);
            return -1;
        }
        out->op = ALERT_OP_OUTSIDE;
        i = 5;
    } else {
        snprintf(why, whylen, "unknown condition '%s' (above, below, outside)", t[2]);
        return -1;
    }
    if (i >= n) {
        snprintf(why, whylen, "missing evaluation (window | consecutive N)");
        return -1;
    }
    if (!strcmp(t[i], "window")) {
        out->mode = ALERT_MODE_WINDOW;
        out->n = 1;
        i++;
    } else if (!strcmp(t[i], "consecutive")) {
        char *end;
        long v = i + 1 < n ? strtol(t[i + 1], &end, 10) : 0;
        if (i + 1 >= n || *end || v < 1 || v > 1000000) {
            snprintf(why, whylen, "`consecutive` needs a count N >= 1");
            return -1;
        }
        out->mode = ALERT_MODE_CONSECUTIVE;
        out->n = (int)v;
        i += 2;
    } else {
        snprintf(why, whylen, "unknown evaluation '%s' (window, consecutive N)", t[i]);
        return -1;
    }
    if (i + 1 < n && !strcmp(t[i], "hysteresis")) {
        if (parse_num(t[i + 1], &out->hysteresis) || out->hysteresis < 0) {
            snprintf(why, whylen, "`hysteresis` needs a number >= 0");
            return -1;
        }
        i += 2;
    }
    if (i != n) {
        snprintf(why, whylen, "unexpected '%s' at the end", t[i]);
        return -1;
    }
    return 0;
}

st_code alert_rules_parse(const char *text, size_t len, const char *name, alert_rules **out, st_err *e)
{
    alert_rules *r = st_xcalloc(1, sizeof *r);
    size_t cap = 0, lineno = 0, pos = 0;
    while (pos < len) {
        size_t end = pos;
        while (end < len && text[end] != '\n') end++;
        lineno++;
        char *line = st_xstrndup(text + pos, end - pos);
        pos = end + 1;
        char *hash = strchr(line, '#');
        if (hash) *hash = '\0';
        char *p = line;
        while (*p && isspace((unsigned char)*p)) p++;
        if (!*p) {
            free(line);
            continue;
        }
        alert_rule rule;
        char why[200];
        if (parse_rule(p, &rule, why, sizeof why)) {
            free(line);
            alert_rules_destroy(r);
            return st_err_set(e, ST_ERR_FORMAT, "%s:%zu: %s", name, lineno, why);
        }
        free(line);
        for (size_t i = 0; i < r->count; i++)
            if (!strcmp(r->items[i].name, rule.name)) {
                alert_rules_destroy(r);
                return st_err_set(e, ST_ERR_FORMAT, "%s:%zu: duplicate rule name '%s'", name, lineno, rule.name);
            }
        if (r->count == cap) {
            cap = cap ? cap * 2 : 8;
            r->items = st_xrealloc(r->items, cap * sizeof *r->items);
        }
        r->items[r->count++] = rule;
    }
    *out = r;
    return ST_OK;
}

st_code alert_rules_load(const char *path, alert_rules **out, st_err *e)
{
    st_buf b = {0};
    st_code rc = st_read_file(path, &b, e);
    if (rc == ST_OK) rc = alert_rules_parse((const char *)b.data, b.len, path, out, e);
    st_buf_free(&b);
    return rc;
}

int alert_rule_fails(const alert_rule *rule, double v, double *bound)
{
    if (isnan(v)) return 0;
    switch (rule->op) {
    case ALERT_OP_ABOVE:
        *bound = rule->hi;
        return v > rule->hi;
    case ALERT_OP_BELOW:
        *bound = rule->lo;
        return v < rule->lo;
    case ALERT_OP_OUTSIDE:
        if (v < rule->lo) {
            *bound = rule->lo;
            return 1;
        }
        *bound = rule->hi;
        return v > rule->hi;
    }
    return 0;
}

int alert_rule_recovered(const alert_rule *rule, double v)
{
    if (isnan(v)) return 0;
    double h = rule->hysteresis;
    switch (rule->op) {
    case ALERT_OP_ABOVE: return v <= rule->hi - h;
    case ALERT_OP_BELOW: return v >= rule->lo + h;
    case ALERT_OP_OUTSIDE: return v >= rule->lo + h && v <= rule->hi - h;
    }
    return 0;
}

void alert_rules_describe(const alert_rules *r, st_buf *out)
{
    for (size_t i = 0; i < r->count; i++) {
        const alert_rule *x = &r->items[i];
        st_buf_printf(out, "%s %s ", x->name, x->sensor_type);
        if (x->op == ALERT_OP_OUTSIDE)
            st_buf_printf(out, "outside %g %g", x->lo, x->hi);
        else
            st_buf_printf(out, "%s %g", x->op == ALERT_OP_ABOVE ? "above" : "below",
                          x->op == ALERT_OP_ABOVE ? x->hi : x->lo);
        if (x->mode == ALERT_MODE_WINDOW)
            st_buf_printf(out, " window");
        else
            st_buf_printf(out, " consecutive %d", x->n);
        if (x->hysteresis > 0) st_buf_printf(out, " hysteresis %g", x->hysteresis);
        st_buf_append_u8(out, '\n');
    }
}
