/* Private types of the schema module: the field table and the context its
 * rule functions receive. Only common/src/schema_*.c and crd.c include this. */
#ifndef MCP_SCHEMA_INTERNAL_H
#define MCP_SCHEMA_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>

#include "mcp/errlist.h"
#include "mcp/schema.h"

#define PATH_MAX_LEN 1024 /* longer field paths are cut (only in messages) */

typedef enum ftype {
    FT_STRING,
    FT_INT,   /* int32 in the CRD */
    FT_INT64, /* int64 in the CRD */
    FT_BOOL,
    FT_OBJECT,   /* fixed properties: `children` */
    FT_ARRAY,    /* items of `item` type; objects use `children` */
    FT_MAP,      /* object of strings (labels, annotations) */
    FT_QUANTITY, /* int-or-string resource quantity */
    FT_ANY,      /* any object, kept whole (x-kubernetes-preserve-unknown-fields) */
} ftype_t;

enum {
    F_REQUIRED = 1u << 0,
    F_NO_CRD_PROPS = 1u << 1,  /* metadata: the CRD must not list its properties */
    F_NO_VALIDATE = 1u << 2,   /* status: written by the controller, not checked */
    F_V1ALPHA1_ONLY = 1u << 4, /* not in v1beta1's schema (ToolHive v0.2.9's names; convert.c) */
    F_TYPE_ONLY = 1u << 3,     /* no rule or default reads the value (an array's: its items'),
                                  only its type: readers need not keep it */
};

typedef struct vctx {
    mcp_errlist_t *errs;
    mcp_errlist_t *warns; /* may be NULL */
    const json_t *obj;    /* the whole MCPServer */
} vctx_t;

typedef struct field field_t;

/* A value rule: `v` is the (type-checked) value at `path`, `parent` the
 * object holding it. Records errors/warnings in ctx. */
typedef void (*check_fn)(vctx_t *ctx, const char *path, const json_t *v, const json_t *parent);

/* A default: given the parent object (already defaulted for earlier rows),
 * returns a new reference to the value to add, or NULL for none. */
typedef json_t *(*default_fn)(const json_t *parent);

struct field {
    const char *name;
    ftype_t type;
    ftype_t item;            /* FT_ARRAY: the items' type */
    const field_t *children; /* FT_OBJECT properties, or FT_ARRAY object items */
    unsigned flags;
    default_fn def;
    check_fn check;
    const char *description;
    ssize_t off;       /* parse target offset in the base struct, -1 = none */
    ssize_t count_off; /* FT_ARRAY: offset of the size_t count */
    size_t elem_size;  /* FT_ARRAY of objects: element struct size */
    /* A present value's canonical spelling: a new reference to put in its
     * place (a JSON Patch "replace"), or NULL when it is already canonical. */
    json_t *(*norm)(const json_t *v);
};

#define FIELD_END                                                                                  \
    {                                                                                              \
        NULL, 0, 0, NULL, 0, NULL, NULL, NULL, -1, -1, 0, NULL                                     \
    }

/* The rows of spec.oidcConfig and spec.authzConfig (schema_auth.c). */
extern const field_t mcp__oidc_fields[];
extern const field_t mcp__authz_fields[];
void mcp__check_oidc(vctx_t *ctx, const char *path, const json_t *v, const json_t *parent);
void mcp__check_authz(vctx_t *ctx, const char *path, const json_t *v, const json_t *parent);

/* The root of the table (apiVersion, kind, metadata, spec, status). */
extern const field_t mcp__root_fields[];
/* The spec's properties (used by the CRD generator for descriptions). */
extern const char mcp__root_description[];

/* "spec" + "." + "port" -> "spec.port"; "spec.env" + 3 -> "spec.env[3]". */
void mcp__path_key(char *out, const char *base, const char *key);
void mcp__path_index(char *out, const char *base, size_t i);
void mcp__path_map(char *out, const char *base, const char *key);

/* Fill the defaults of `obj` in place, walking the table. When `out` is
 * non-NULL, record each added value as a change. Returns 0 or MCP_ENOMEM. */
int mcp__defaults_apply(json_t *obj, mcp_changes_t *out);

/* JSON type checks by table type. */
int mcp__type_ok(ftype_t t, const json_t *v);
const char *mcp__type_name(ftype_t t);

/* A set of borrowed strings (strset.c), for uniqueness in O(n). */
typedef struct mcp__strset_slot {
    const char *s; /* NULL: free */
    size_t len;
} mcp__strset_slot_t;

typedef struct mcp__strset {
    mcp__strset_slot_t *slots;
    size_t cap, len;
    uint64_t seed;
    unsigned long probes; /* slots looked at, in all (for tests of the bound) */
} mcp__strset_t;

/* Room for up to n strings. 0 or MCP_ENOMEM. */
int mcp__strset_init(mcp__strset_t *set, size_t n);
void mcp__strset_dispose(mcp__strset_t *set);
/* Add s[0..len) (borrowed: must outlive the set). 1 added, 0 already there,
 * -1 when the set already holds the n strings it was sized for. */
int mcp__strset_add(mcp__strset_t *set, const char *s, size_t len);

/* Helpers shared by the rule functions. */
const char *mcp__str(const json_t *obj, const char *key); /* NULL unless a string */
/* A warning about the field at `path` (which orders the list). */
void mcp__warn(vctx_t *ctx, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
