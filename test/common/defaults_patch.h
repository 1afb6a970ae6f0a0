/* What the schema suites share (test_schema.c, test_toolhive_examples.c):
 * the mutating webhook's defaulting patch for obj (mcp_defaults, as JSON
 * Patch; new reference), and that patch applied to obj in place: only
 * "add" of a member that is not there and "replace" of one that is (the
 * legacy spelling of a type), each under an existing parent; either fails
 * the test otherwise. Included after cmocka.h and mcp/schema.h. */
#ifndef MCP_TEST_DEFAULTS_PATCH_H
#define MCP_TEST_DEFAULTS_PATCH_H

static json_t *tu_defaults_patch(const json_t *obj)

{
    mcp_changes_t c;
    json_t *patch;

    mcp_changes_init(&c);
    assert_int_equal(mcp_defaults(obj, &c), 0);
    patch = mcp_changes_to_patch(&c);
    mcp_changes_dispose(&c);
    assert_non_null(patch);
    return patch;
}

static void tu_apply_defaults_patch(json_t *obj, const json_t *patch)
{
    size_t i;
    json_t *op;

    json_array_foreach(patch, i, op)
    {
        char *path = strdup(json_string_value(json_object_get(op, "path")));
        char *last = strrchr(path, '/');
        json_t *parent = obj;
        const char *kind = json_string_value(json_object_get(op, "op"));
        int replace = strcmp(kind, "replace") == 0;

        assert_true(replace || strcmp(kind, "add") == 0);
        *last = '\0';
        for (char *tok = strtok(path, "/"); tok; tok = strtok(NULL, "/")) {
            parent = json_is_array(parent) ? json_array_get(parent, strtoul(tok, NULL, 10))
                                           : json_object_get(parent, tok);
            assert_non_null(parent);
        }
        assert_true(json_is_object(parent));
        if (replace) /* only a value that is there */
            assert_non_null(json_object_get(parent, last + 1));
        else /* an add never replaces */
            assert_null(json_object_get(parent, last + 1));
        json_object_set(parent, last + 1, json_object_get(op, "value"));
        free(path);
    }
}

#endif
