/* delta_schema.c — flat Delta schemas: fields, Spark JSON form, Parquet nodes. */
#include "delta/delta_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct delta_field {
    char *name;
    delta_type type;
    int nullable;
    char *type_json;    /* DELTA_TYPE_OTHER: the original type JSON */
} delta_field;

struct delta_schema {
    delta_field *fields;
    size_t n, cap;
};

static const char *const type_names[] = {"boolean", "integer", "long", "double",
                                         "string",  "date",    "timestamp"};

/* Delta's name of a type; "other" for anything we do not model. */
const char *delta_type_name(delta_type t)
{
    return (unsigned)t < sizeof type_names / sizeof *type_names ? type_names[t] : "other";
}

/* An empty schema. */
delta_schema *delta_schema_new(void)
{
    return st_xcalloc(1, sizeof(delta_schema));
}

/* NULL-safe. */
void delta_schema_destroy(delta_schema *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->fields[i].name);
        free(s->fields[i].type_json);
    }
    free(s->fields);
    free(s);
}

/* Appends a field (copies strings); amortised O(1). */
static void push_field(delta_schema *s, const char *name, delta_type type, int nullable, const char *type_json)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 8;
        s->fields = st_xrealloc(s->fields, s->cap * sizeof *s->fields);
    }
    delta_field *f = &s->fields[s->n++];
    f->name = st_xstrdup(name);
    f->type = type;
    f->nullable = nullable ? 1 : 0;
    f->type_json = type_json ? st_xstrdup(type_json) : NULL;
}

/* Deep copy. O(fields). */
delta_schema *delta_schema_copy(const delta_schema *s)
{
    delta_schema *c = delta_schema_new();
    for (size_t i = 0; i < s->n; i++)
        push_field(c, s->fields[i].name, s->fields[i].type, s->fields[i].nullable, s->fields[i].type_json);
    return c;
}

/* O(fields) duplicate check, case-insensitive as the protocol requires. */
st_code delta_schema_add(delta_schema *s, const char *name, delta_type type, int nullable, st_err *e)
{
    if (!name || !*name) return st_err_set(e, ST_ERR_ARG, "schema field with an empty name");
    if ((unsigned)type > DELTA_TYPE_TIMESTAMP)
        return st_err_set(e, ST_ERR_ARG, "schema field %s: type %d cannot be written", name, (int)type);
    for (size_t i = 0; i < s->n; i++)
        if (strcasecmp(s->fields[i].name, name) == 0)
            return st_err_set(e, ST_ERR_ARG, "schema field %s: duplicate of %s (names are case-insensitive)",
                              name, s->fields[i].name);
    push_field(s, name, type, nullable, NULL);
    return ST_OK;
}

size_t delta_schema_num_fields(const delta_schema *s) { return s->n; }
const char *delta_schema_field_name(const delta_schema *s, size_t i) { return s->fields[i].name; }
delta_type delta_schema_field_type(const delta_schema *s, size_t i) { return s->fields[i].type; }
int delta_schema_field_nullable(const delta_schema *s, size_t i) { return s->fields[i].nullable; }

/* Type text of field i: the original JSON for DELTA_TYPE_OTHER. */
const char *delta_schema_field_type_json(const delta_schema *s, size_t i)
{
    return s->fields[i].type_json ? s->fields[i].type_json : delta_type_name(s->fields[i].type);
}

/* Exact-name lookup, O(fields). */
int delta_schema_find(const delta_schema *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->fields[i].name, name) == 0) return (int)i;
    return -1;
}

/* Same names, types and nullability in order. O(fields). */
int delta_schema_equal(const delta_schema *a, const delta_schema *b)
{
    if (a->n != b->n) return 0;
    for (size_t i = 0; i < a->n; i++) {
        const delta_field *x = &a->fields[i], *y = &b->fields[i];
        if (strcmp(x->name, y->name) || x->type != y->type || x->nullable != y->nullable) return 0;
        if (x->type == DELTA_TYPE_OTHER && strcmp(x->type_json, y->type_json)) return 0;
    }
    return 1;
}

/* schemaString JSON (Spark's form, empty metadata per field); malloc'd. */
char *delta_schema_to_json(const delta_schema *s)
{
    json_t *fields = json_array();
    for (size_t i = 0; i < s->n; i++) {
        const delta_field *f = &s->fields[i];
        json_t *type;
        if (f->type == DELTA_TYPE_OTHER) {
            type = json_loads(f->type_json, JSON_DECODE_ANY, NULL);
            if (!type) type = json_string(f->type_json);
        } else {
            type = json_string(delta_type_name(f->type));
        }
        json_array_append_new(fields, json_pack("{s:s, s:o, s:b, s:{}}", "name", f->name, "type", type,
                                                "nullable", f->nullable, "metadata"));
    }
    json_t *root = json_pack("{s:s, s:o}", "type", "struct", "fields", fields);
    char *out = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    char *res = st_xstrdup(out);
    free(out);
    return res;
}

/* Parses a schemaString; unknown or nested types become DELTA_TYPE_OTHER so a
 * foreign table can still be described. */
delta_schema *delta_schema_from_json(const char *text, st_err *e)
{
    json_error_t je;
    json_t *root = json_loads(text, 0, &je);
    if (!root) {
        st_err_set(e, ST_ERR_FORMAT, "schemaString is not JSON: %s (column %d)", je.text, je.column);
        return NULL;
    }
    delta_schema *s = NULL;
    json_t *fields = json_object_get(root, "fields");
    if (!json_is_object(root) || !json_is_array(fields)) {
        st_err_set(e, ST_ERR_FORMAT, "schemaString is not a struct with fields");
        goto done;
    }
    s = delta_schema_new();
    size_t i;
    json_t *f;
    json_array_foreach(fields, i, f) {
        const char *name = json_string_value(json_object_get(f, "name"));
        json_t *type = json_object_get(f, "type");
        if (!name || !type) {
            st_err_set(e, ST_ERR_FORMAT, "schemaString field %zu has no name or type", i);
            delta_schema_destroy(s);
            s = NULL;
            goto done;
        }
        int nullable = json_is_true(json_object_get(f, "nullable")) || !json_object_get(f, "nullable");
        delta_type t = DELTA_TYPE_OTHER;
        const char *tn = json_string_value(type);
        if (tn)
            for (int k = 0; k <= DELTA_TYPE_TIMESTAMP; k++)
                if (strcmp(tn, type_names[k]) == 0) t = (delta_type)k;
        char *tj = NULL;
        if (t == DELTA_TYPE_OTHER) tj = tn ? st_xstrdup(tn) : json_dumps(type, JSON_COMPACT | JSON_PRESERVE_ORDER);
        push_field(s, name, t, nullable, tj);
        free(tj);
    }
done:
    json_decref(root);
    return s;
}

/* Parquet nodes of the data columns (partition columns excluded); names
 * borrowed from s. */
st_code delta_schema_to_parquet(const delta_schema *s, const char *const *exclude, size_t nexclude,
                                pq_schema_node **nodes, int *nnodes, st_err *e)
{
    pq_schema_node *out = st_xcalloc(s->n ? s->n : 1, sizeof *out);
    int n = 0;
    for (size_t i = 0; i < s->n; i++) {
        const delta_field *f = &s->fields[i];
        int skip = 0;
        for (size_t k = 0; k < nexclude; k++)
            if (strcmp(exclude[k], f->name) == 0) skip = 1;
        if (skip) continue;
        pq_schema_node *p = &out[n++];
        p->name = f->name;
        p->repetition = f->nullable ? PQ_OPTIONAL : PQ_REQUIRED;
        switch (f->type) {
        case DELTA_TYPE_BOOLEAN: p->physical = PQ_BOOLEAN; break;
        case DELTA_TYPE_INTEGER: p->physical = PQ_INT32; break;
        case DELTA_TYPE_LONG: p->physical = PQ_INT64; break;
        case DELTA_TYPE_DOUBLE: p->physical = PQ_DOUBLE; break;
        case DELTA_TYPE_STRING: p->physical = PQ_BYTE_ARRAY; p->logical = PQ_LOGICAL_STRING; break;
        case DELTA_TYPE_DATE: p->physical = PQ_INT32; p->logical = PQ_LOGICAL_DATE; break;
        case DELTA_TYPE_TIMESTAMP: p->physical = PQ_INT64; p->logical = PQ_LOGICAL_TIMESTAMP_MICROS; break;
        default:
            free(out);
            return st_err_set(e, ST_ERR_UNSUPPORTED, "column %s: type %s cannot be written by this writer",
                              f->name, delta_schema_field_type_json(s, i));
        }
    }
    *nodes = out;
    *nnodes = n;
    return ST_OK;
}
