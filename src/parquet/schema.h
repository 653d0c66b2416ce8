/* schema.h — private: the schema tree shared by writer and reader.
 * Validates a depth-first node list and derives, per leaf, its node, path and
 * maximum definition/repetition levels. */
#ifndef ST_PARQUET_SCHEMA_H
#define ST_PARQUET_SCHEMA_H

#include "parquet/parquet.h"

#define PQ_MAX_NESTING 64

typedef struct pq_leaf_desc {
    int node;               /* index into nodes */
    int16_t max_def, max_rep;
    int path_len;           /* names from the top-level field down to the leaf */
    int *path_nodes;        /* path_len node indices (owned) */
    char *dotted;           /* "a.b.c" (owned) */
} pq_leaf_desc;

typedef struct pq_schema {
    pq_schema_node *nodes;  /* copies; names owned */
    int nnodes;
    int num_top;            /* children of the implicit root */
    pq_leaf_desc *leaves;
    int nleaves;
} pq_schema;

/* Copies and validates the node list (names must be non-empty; group children must
 * exist; leaves need a physical type). ctx names the file in error messages. */
st_code pq_schema_build(pq_schema *s, const pq_schema_node *fields, int nfields, const char *ctx, st_err *e);
void pq_schema_free(pq_schema *s);   /* NULL-safe, leaves *s zeroed */

#endif
