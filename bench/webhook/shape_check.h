/* The model of a shaped parse (wh_json_parse with wh_json_opts_t.shape), as
 * the fuzzer (bench/webhook/fuzz_admission.c) and test/webhook/test_json.c
 * check it: given the whole tree jansson builds for the same text, what must
 * the shaped parse have built, and how many bounds errors reported?
 *   - a container the shape expects: an object keeps exactly the members
 *     its shape names (a map: its first max_items members), an array its
 *     first max_items elements, each shaped again; more than max_items is one
 *     "Too many"; a value with max_depth nested deeper is one error;
 *   - a container the shape does not expect: the whole value, or (when its
 *     text is long) an empty container of its type;
 *   - a string whose text no rule reads (type_only): "";
 *   - any other scalar: itself.
 * shape_matches returns 1 when `got` is such a value, adding the number of
 * errors expected to *bounds. */
#ifndef MCP_BENCH_SHAPE_CHECK_H
#define MCP_BENCH_SHAPE_CHECK_H

#include <string.h>
#include <jansson.h>

#include "mcp/schema.h"

static inline int shape_fits(const mcp_shape_t *s, const json_t *v)
{
    return s && ((json_is_object(v) && s->kind == MCP_SHAPE_OBJECT) ||
                 (json_is_array(v) && s->kind == MCP_SHAPE_ARRAY));
}

static inline const mcp_shape_t *shape_member(const mcp_shape_t *s, const char *key)
{
    for (const mcp_shape_t *m = s->members; m && m->name; m++)
        if (strcmp(m->name, key) == 0)
            return m;
    return NULL;
}

static inline int shape_matches(const json_t *got, const json_t *full, const mcp_shape_t *s,
                                size_t *bounds)
{
    size_t count = 0, kept = 0;

    if (s && s->type_only && json_is_string(full))
        return json_is_string(got) && json_string_length(got) == 0;
    if (!json_is_object(full) && !json_is_array(full))
        return json_equal(got, full);
    if (!shape_fits(s, full))
        return json_equal(got, full) ||
               (json_is_object(full) ? json_is_object(got) && json_object_size(got) == 0
                                     : json_is_array(got) && json_array_size(got) == 0);
    if (json_typeof(got) != json_typeof(full))
        return 0;
    if (s->max_depth && mcp_json_deeper_than(full, s->max_depth))
        (*bounds)++;
    if (json_is_object(full)) {
        const char *key;
        json_t *v;

        json_object_foreach((json_t *)full, key, v)
        {
            const mcp_shape_t *m = s->members ? shape_member(s, key) : NULL;

            count++;
            if (s->members ? !m : s->max_items && count > s->max_items)
                continue;
            kept++;
            if (!shape_matches(json_object_get(got, key), v, m, bounds))
                return 0;
        }
        if (json_object_size(got) != kept)
            return 0;
    } else {
        size_t i;
        json_t *v;

        json_array_foreach(full, i, v)
        {
            count++;
            if (s->max_items && count > s->max_items)
                continue;
            kept++;
            if (!shape_matches(json_array_get(got, i), v, s->items, bounds))
                return 0;
        }
        if (json_array_size(got) != kept)
            return 0;
    }
    if (s->max_items && count > s->max_items && s->path)
        (*bounds)++;
    return 1;
}

#endif
