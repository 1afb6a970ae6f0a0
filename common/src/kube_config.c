/* Where the apiserver is and how to authenticate: a kubeconfig file's
 * current context (parsed with libyaml into a small JSON tree, then read
 * with the JSON helpers), or the in-cluster service-account files. Relative
 * file paths in a kubeconfig are relative to the file's folder, as kubectl
 * does. Credentials are only ever held in memory, never logged (see
 * mcp/kube.h). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <yaml.h>

#include "mcp/json.h"
#include "mcp/kube.h"

#define KCONFIG_MAX ((size_t)4 << 20)
#define SA_DIR      "/var/run/secrets/kubernetes.io/serviceaccount"
#define SA_FILE_MAX ((size_t)64 << 10)
#define YAML_DEPTH  32

/* ---- YAML -> JSON (scalars become strings; aliases are not followed) ---- */

static json_t *node_to_json(yaml_document_t *doc, yaml_node_t *node, int depth)
{
    json_t *out = NULL;

    if (!node || depth > YAML_DEPTH)
        return NULL;
    switch (node->type) {
    case YAML_SCALAR_NODE:
        return json_stringn((const char *)node->data.scalar.value, node->data.scalar.length);
    case YAML_SEQUENCE_NODE:
        out = json_array();
        for (yaml_node_item_t *it = node->data.sequence.items.start;
             out && it < node->data.sequence.items.top; it++)
            json_array_append_new(out,
                                  node_to_json(doc, yaml_document_get_node(doc, *it), depth + 1));
        return out;
    case YAML_MAPPING_NODE:
        out = json_object();
        for (yaml_node_pair_t *p = node->data.mapping.pairs.start;
             out && p < node->data.mapping.pairs.top; p++) {
            yaml_node_t *k = yaml_document_get_node(doc, p->key);
            if (k && k->type == YAML_SCALAR_NODE)
                json_object_set_new(
                    out, (const char *)k->data.scalar.value,
                    node_to_json(doc, yaml_document_get_node(doc, p->value), depth + 1));
        }
        return out;
    default:
        return NULL;
    }
}

static json_t *yaml_to_json(const char *text, size_t len, char *err, size_t errlen)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    json_t *out = NULL;

    if (!yaml_parser_initialize(&parser)) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(err, errlen, "kubeconfig: YAML error at line %zu: %s",
                 parser.problem_mark.line + 1, parser.problem ? parser.problem : "?");
        yaml_parser_delete(&parser);
        return NULL;
    }
    out = node_to_json(&doc, yaml_document_get_root_node(&doc), 0);
    if (!json_is_object(out)) {
        snprintf(err, errlen, "kubeconfig: not a YAML mapping");
        json_decref(out);
        out = NULL;
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return out;
}

/* ---- helpers ---------------------------------------------------------- */

/* The "<kind>" entry named `name` of list `key` ("clusters" -> "cluster"). */
static const json_t *named(const json_t *root, const char *key, const char *kind, const char *name)
{
    return json_object_get(mcp_json_find(json_object_get(root, key), "name", name), kind);
}

/* Base64 (with padding, line breaks allowed) to a NUL-terminated string, by
 * OpenSSL's decoder, which counts the padding itself. NULL when malformed. */
static char *b64_decode(const char *in)
{
    size_t n = strlen(in);
    EVP_ENCODE_CTX *ctx;
    unsigned char *out;
    int len = 0, tail = 0, ok;

    if (n > INT_MAX / 2 || !(ctx = EVP_ENCODE_CTX_new()))
        return NULL;
    out = malloc(n / 4 * 3 + 4);
    EVP_DecodeInit(ctx);
    ok = out && EVP_DecodeUpdate(ctx, out, &len, (const unsigned char *)in, (int)n) >= 0 &&
         EVP_DecodeFinal(ctx, out + len, &tail) == 1;
    EVP_ENCODE_CTX_free(ctx);
    if (!ok) {
        free(out);
        return NULL;
    }
    out[len + tail] = '\0';
    return (char *)out;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* A path made absolute against `dir` (the kubeconfig's folder). */
static char *resolve(const char *dir, const char *p)
{
    char *out = NULL;

    if (!p)
        return NULL;
    if (p[0] == '/' || !dir)
        return strdup(p);
    return asprintf(&out, "%s/%s", dir, p) < 0 ? NULL : out;
}

/* `data` field (base64) or `file` field. Returns 0 or MCP_EINVAL. */
static int data_or_file(const json_t *o, const char *data_key, const char *file_key,
                        const char *dir, char **data, char **file)
{
    const char *d = json_string_value(json_object_get(o, data_key));

    if (d) {
        *data = b64_decode(d);
        return *data ? 0 : MCP_EINVAL;
    }
    *file = resolve(dir, json_string_value(json_object_get(o, file_key)));
    return 0;
}

static int fill(mcp_kube_config_t *c, const json_t *root, const char *dir, char *err, size_t errlen)
{
    const char *cur = json_string_value(json_object_get(root, "current-context"));
    const json_t *ctx = named(root, "contexts", "context", cur);
    const json_t *cl = named(root, "clusters", "cluster", mcp_json_str(ctx, "cluster"));
    const json_t *user = named(root, "users", "user", mcp_json_str(ctx, "user"));
    const char *ins = mcp_json_str(cl, "insecure-skip-tls-verify");

    if (!ctx || !cl || !mcp_json_str(cl, "server")) {
        snprintf(err, errlen, "kubeconfig: current context %s%s%s has no cluster server",
                 cur ? "\"" : "", cur ? cur : "(none)", cur ? "\"" : "");
        return MCP_EINVAL;
    }
    c->server = strdup(mcp_json_str(cl, "server"));
    c->namespace = dup_or_null(mcp_json_str(ctx, "namespace"));
    c->insecure = ins && strcmp(ins, "true") == 0;
    c->token = dup_or_null(mcp_json_str(user, "token"));
    c->token_file = resolve(dir, mcp_json_str(user, "tokenFile"));
    if (data_or_file(cl, "certificate-authority-data", "certificate-authority", dir, &c->ca_data,
                     &c->ca_file) ||
        data_or_file(user, "client-certificate-data", "client-certificate", dir, &c->cert_data,
                     &c->cert_file) ||
        data_or_file(user, "client-key-data", "client-key", dir, &c->key_data, &c->key_file)) {
        snprintf(err, errlen, "kubeconfig: bad base64 in a *-data field");
        return MCP_EINVAL;
    }
    return c->server ? 0 : MCP_ENOMEM;
}

int mcp_kube_config_load_mem(mcp_kube_config_t *c, const char *yaml, size_t len, char *err,
                             size_t errlen)
{
    json_t *root;
    int rc;

    memset(c, 0, sizeof(*c));
    root = yaml_to_json(yaml, len, err, errlen);
    if (!root)
        return MCP_EINVAL;
    rc = fill(c, root, NULL, err, errlen);
    json_decref(root);
    if (rc)
        mcp_kube_config_dispose(c);
    return rc;
}

/* Whole small file into a NUL-terminated string (NULL on error). */
static char *slurp(const char *path, size_t cap, size_t *len)
{
    FILE *f = fopen(path, "rb");
    mcp_buf_t b;
    char chunk[4096];
    size_t n;

    if (!f)
        return NULL;
    mcp_buf_init(&b, cap);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (mcp_buf_add(&b, chunk, n) != 0) {
            fclose(f);
            mcp_buf_dispose(&b);
            return NULL;
        }
    }
    fclose(f);
    if (len)
        *len = b.len;
    return b.data ? mcp_buf_take(&b) : strdup("");
}

int mcp_kube_config_load_file(mcp_kube_config_t *c, const char *path, char *err, size_t errlen)
{
    size_t len = 0;
    char *text = slurp(path, KCONFIG_MAX, &len), *dir, *slash;
    json_t *root;
    int rc;

    memset(c, 0, sizeof(*c));
    if (!text) {
        snprintf(err, errlen, "kubeconfig %s: %s", path, strerror(errno ? errno : EIO));
        return MCP_EIO;
    }
    root = yaml_to_json(text, len, err, errlen);
    free(text);
    if (!root)
        return MCP_EINVAL;
    dir = strdup(path);
    slash = dir ? strrchr(dir, '/') : NULL;
    if (slash)
        *slash = '\0';
    rc = fill(c, root, slash ? dir : ".", err, errlen);
    free(dir);
    json_decref(root);
    if (rc)
        mcp_kube_config_dispose(c);
    return rc;
}

/* Read a token file, trimming trailing whitespace. New string or NULL. */
char *mcp_kube_read_token(const char *path)
{
    char *t = slurp(path, SA_FILE_MAX, NULL);
    size_t n = t ? strlen(t) : 0;

    while (n && (t[n - 1] == '\n' || t[n - 1] == '\r' || t[n - 1] == ' '))
        t[--n] = '\0';
    return t;
}

int mcp_kube_config_in_cluster(mcp_kube_config_t *c, const char *sa_dir, char *err, size_t errlen)
{
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT");
    const char *dir = sa_dir ? sa_dir : SA_DIR;
    char path[512];
    int v6;

    memset(c, 0, sizeof(*c));
    if (!host || !*host || !port || !*port) {
        snprintf(err, errlen, "not in a cluster: KUBERNETES_SERVICE_HOST/PORT unset");
        return MCP_EINVAL;
    }
    v6 = strchr(host, ':') != NULL;
    if (asprintf(&c->server, "https://%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "", port) < 0)
        return MCP_ENOMEM;
    snprintf(path, sizeof(path), "%s/token", dir);
    c->token_file = strdup(path);
    c->token = mcp_kube_read_token(path);
    snprintf(path, sizeof(path), "%s/ca.crt", dir);
    c->ca_file = strdup(path);
    snprintf(path, sizeof(path), "%s/namespace", dir);
    c->namespace = mcp_kube_read_token(path);
    if (!c->token) {
        snprintf(err, errlen, "in-cluster: cannot read %s/token", dir);
        mcp_kube_config_dispose(c);
        return MCP_EIO;
    }
    return 0;
}

void mcp_kube_config_dispose(mcp_kube_config_t *c)
{
    char **fields[] = {&c->server,   &c->ca_file,  &c->ca_data,    &c->cert_file, &c->cert_data,
                       &c->key_file, &c->key_data, &c->token_file, &c->namespace, &c->token};

    if (c->token)
        OPENSSL_cleanse(c->token, strlen(c->token));
    if (c->key_data)
        OPENSSL_cleanse(c->key_data, strlen(c->key_data));
    for (size_t i = 0; i < MCP_ARRAY_LEN(fields); i++) {
        free(*fields[i]);
        *fields[i] = NULL;
    }
}

int mcp_kube_config_load(mcp_kube_config_t *c, const char *path, char *err, size_t errlen)
{
    const char *env = getenv("KUBECONFIG"), *home = getenv("HOME");
    char home_cfg[1024];
    int rc;

    if (path || (env && *env))
        return mcp_kube_config_load_file(c, path ? path : env, err, errlen);
    rc = mcp_kube_config_in_cluster(c, NULL, err, errlen);
    if (rc == 0 || !home)
        return rc;
    snprintf(home_cfg, sizeof(home_cfg), "%s/.kube/config", home);
    return mcp_kube_config_load_file(c, home_cfg, err, errlen);
}
