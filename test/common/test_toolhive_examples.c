/* ToolHive v0.2.9's and v0.44.0's twelve example manifests each
 * (test/fixtures/toolhive-v0.2.9/ and -v0.44.0/, verbatim) through the
 * webhook's defaulting and validation, v0.44.0's v1beta1 objects converted to
 * v1alpha1 first as the API server does for the webhook (matchPolicy
 * Equivalent): every MCPServer in them is allowed, its defaulted form needs
 * no further patch, and it parses. The YAML is read with libyaml into JSON the way the apiserver
 * would (plain scalars that look like integers, booleans or null are typed). */
#include <dirent.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <yaml.h>

#include "mcp/convert.h"
#include "mcp/schema.h"
#include "testutil.h"
#include "defaults_patch.h"

static json_t *scalar(const yaml_event_t *ev)
{
    const char *v = (const char *)ev->data.scalar.value;
    char *end;
    long long n;

    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return json_string(v);
    if (strcmp(v, "true") == 0)
        return json_true();
    if (strcmp(v, "false") == 0)
        return json_false();
    if (strcmp(v, "null") == 0 || strcmp(v, "~") == 0 || *v == '\0')
        return json_null();
    n = strtoll(v, &end, 10);
    if (*end == '\0')
        return json_integer(n);
    return json_string(v);
}

static json_t *node(yaml_parser_t *p);

/* The value that `ev` (already read) starts: a scalar, mapping or sequence;
 * no anchors or aliases in the examples. */
static json_t *value(yaml_parser_t *p, const yaml_event_t *ev)
{
    json_t *out = NULL;

    if (ev->type == YAML_SCALAR_EVENT) {
        out = scalar(ev);
    } else if (ev->type == YAML_MAPPING_START_EVENT || ev->type == YAML_SEQUENCE_START_EVENT) {
        bool map = ev->type == YAML_MAPPING_START_EVENT;
        out = map ? json_object() : json_array();
        for (;;) {
            yaml_event_t k;
            assert_true(yaml_parser_parse(p, &k));
            if (k.type == YAML_MAPPING_END_EVENT || k.type == YAML_SEQUENCE_END_EVENT) {
                yaml_event_delete(&k);
                break;
            }
            if (map) {
                assert_int_equal(k.type, YAML_SCALAR_EVENT);
                json_object_set_new(out, (const char *)k.data.scalar.value, node(p));
            } else {
                json_array_append_new(out, value(p, &k));
            }
            yaml_event_delete(&k);
        }
    } else {
        fail_msg("unexpected YAML event %d", ev->type);
    }
    assert_non_null(out);
    return out;
}

static json_t *node(yaml_parser_t *p)
{
    yaml_event_t ev;
    json_t *out;

    assert_true(yaml_parser_parse(p, &ev));
    out = value(p, &ev);
    yaml_event_delete(&ev);
    return out;
}

/* Every document of a file, as a JSON array. */
static json_t *load_yaml(const char *path)
{
    FILE *f = fopen(path, "rb");
    yaml_parser_t p;
    json_t *docs = json_array();
    bool done = false;

    assert_non_null(f);
    assert_true(yaml_parser_initialize(&p));
    yaml_parser_set_input_file(&p, f);
    while (!done) {
        yaml_event_t ev;
        assert_true(yaml_parser_parse(&p, &ev));
        if (ev.type == YAML_DOCUMENT_START_EVENT)
            json_array_append_new(docs, node(&p));
        done = ev.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    fclose(f);
    return docs;
}

/* Every member of v is a field of the schema (the CRD's structural schema,
 * generated from the same table, makes the apiserver refuse unknown ones);
 * podTemplateSpec keeps unknown fields. Returns the unknown ones found. */
static int unknown_fields(const mcp_shape_t *sh, const json_t *v, const char *path)
{
    const char *k;
    json_t *m;
    size_t i;
    int n = 0;

    if (sh->kind == MCP_SHAPE_ARRAY && sh->items && json_is_array(v))
        json_array_foreach(v, i, m) n += unknown_fields(sh->items, m, path);
    if (sh->kind != MCP_SHAPE_OBJECT || !sh->members || sh->max_depth || !json_is_object(v))
        return n;
    json_object_foreach((json_t *)v, k, m)
    {
        const mcp_shape_t *c = sh->members;
        while (c->name && strcmp(c->name, k) != 0)
            c++;
        if (!c->name) {
            print_error("unknown field %s.%s\n", path, k);
            n++;
        } else {
            n += unknown_fields(c, m, c->path);
        }
    }
    return n;
}

static const mcp_shape_t *member(const mcp_shape_t *sh, const char *name)
{
    for (const mcp_shape_t *c = sh->members; c && c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

/* Mutate, then validate what the apiserver would store; 1 when allowed. */
static int admit(const char *file, json_t *obj)
{
    mcp_errlist_t warns;
    json_t *patch = tu_defaults_patch(obj), *again;
    mcp_server_t s;
    char *msg;
    int oom;

    assert_int_equal(
        unknown_fields(member(mcp_schema_shape(), "spec"), json_object_get(obj, "spec"), "spec"),
        0);
    tu_apply_defaults_patch(obj, patch);
    again = tu_defaults_patch(obj);
    assert_int_equal(json_array_size(again), 0); /* reinvocation adds nothing */
    mcp_errlist_init(&warns);
    msg = mcp_validate_message(obj, &warns, &oom);
    assert_int_equal(oom, 0);
    if (msg)
        print_error("%s: %s\n", file, msg);
    assert_int_equal(mcp_server_parse(obj, &s, NULL), 0);
    if (strstr(file, "_oidc.yaml"))
        assert_non_null(s.oidc.type);
    if (strstr(file, "configmap_oidc"))
        assert_string_equal(s.oidc.type, "configMap");
    mcp_server_dispose(&s);
    mcp_errlist_dispose(&warns);
    json_decref(patch);
    json_decref(again);
    free(msg);
    return msg == NULL;
}

/* Every MCPServer of the directory's .yaml files; the counts found. */
static void examples_allowed(const char *dir, int *files, int *servers, int *beta)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int denied = 0;

    assert_non_null(d);
    while ((e = readdir(d))) {
        char path[512];
        json_t *docs, *doc;
        size_t i;

        if (!strstr(e->d_name, ".yaml"))
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        docs = load_yaml(path);
        (*files)++;
        json_array_foreach(docs, i, doc)
        {
            /* (a document of comments only is null) */
            if (strcmp(json_string_value(json_object_get(doc, "kind")) ?: "", "MCPServer") != 0)
                continue;
            (*servers)++;
            if (strcmp(json_string_value(json_object_get(doc, "apiVersion")),
                       MCP_API_VERSION_BETA) == 0) {
                (*beta)++;
                assert_int_equal(mcp_convert(doc, MCP_API_VERSION), 0);
            }
            denied += !admit(e->d_name, doc);
        }
        json_decref(docs);
    }
    closedir(d);
    assert_int_equal(denied, 0);
}

static void test_examples_allowed(void **state)
{
    int files = 0, servers = 0, beta = 0;

    (void)state;
    examples_allowed("test/fixtures/toolhive-v0.2.9", &files, &servers, &beta);
    assert_int_equal(files, 12);
    assert_int_equal(servers, 12);
    assert_int_equal(beta, 0);
    files = servers = 0;
    examples_allowed("test/fixtures/toolhive-v0.44.0", &files, &servers, &beta);
    assert_int_equal(files, 12);
    assert_int_equal(servers, beta);
    assert_true(servers >= 12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_examples_allowed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
