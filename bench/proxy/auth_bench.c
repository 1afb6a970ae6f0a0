/* make bench-auth: the cost of one bearer-token verification with the key
 * set already parsed (as the proxy will hold it), per algorithm, and of one
 * DPoP proof and one JWKS parse, from the fixtures of
 * test/fixtures/proxy/auth/. Each figure is RUNS runs of N calls; printed
 * as ns per call, median and min..max over the runs.
 *
 *   usage: bench-auth [N [RUNS [ONLY]]]   (defaults 2000, 7, all; run from the repo root)
 *
 * ONLY runs the figures whose name starts with it; under
 * `valgrind --tool=callgrind --toggle-collect=measure` that gives the
 * instructions per call, which a busy machine does not change. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../proxy/auth/auth.h"

#define FIX "test/fixtures/proxy/auth/"

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
        !(buf = malloc((size_t)n + 1)) || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "bench-auth: cannot read %s (run from the repository root)\n", path);
        exit(2);
    }
    fclose(f);
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

typedef int (*call_fn)(void *ctx);

static const char *only = "";

/* RUNS runs of n calls of fn; prints median and spread of ns per call. */
static void measure(const char *name, call_fn fn, void *ctx, int n, int runs)
{
    double ns[64];

    if (strncmp(name, only, strlen(only)) != 0)
        return;

    if (fn(ctx) != 0) {
        fprintf(stderr, "bench-auth: %s does not verify\n", name);
        exit(1);
    }
    for (int r = 0; r < runs; r++) {
        double t0 = now_ns();

        for (int i = 0; i < n; i++)
            fn(ctx);
        ns[r] = (now_ns() - t0) / n;
    }
    qsort(ns, (size_t)runs, sizeof(ns[0]), cmp_double);
    printf("%-24s %9.0f ns/call  (min %.0f, max %.0f, spread %.1f%%; %d runs x %d)\n", name,
           ns[runs / 2], ns[0], ns[runs - 1], 100.0 * (ns[runs - 1] - ns[0]) / ns[runs / 2], runs,
           n);
}

typedef struct jwt_case {
    px_auth_config_t cfg;
    px_auth_keyset_t *ks;
    char *tok;
    size_t len;
} jwt_case_t;

static int verify_jwt(void *p)
{
    jwt_case_t *c = p;
    json_t *claims = NULL;
    int rc = px_auth_jwt_verify(&c->cfg, c->ks, c->tok, c->len, 1750000000, &claims, NULL);

    json_decref(claims);
    return rc;
}

static void bench_jwt(const char *name, const char *dir, int n, int runs)
{
    char path[256], *jwks;
    size_t jlen;
    jwt_case_t c;

    px_auth_config_init(&c.cfg);
    c.cfg.issuer = "https://issuer.example.com";
    c.cfg.audience = "https://mcp.example.com/mcp";
    snprintf(path, sizeof(path), FIX "jwt/%s/jwks.json", dir);
    jwks = slurp(path, &jlen);
    if (px_auth_keyset_parse(jwks, jlen, &c.ks, NULL) != 0)
        exit(1);
    snprintf(path, sizeof(path), FIX "jwt/%s/token", dir);
    c.tok = slurp(path, &c.len);
    measure(name, verify_jwt, &c, n, runs);
    px_auth_keyset_free(c.ks);
    free(c.tok);
    free(jwks);
}

typedef struct dpop_case {
    px_auth_dpop_req_t req;
    char *proof;
    size_t len;
} dpop_case_t;

static int verify_dpop(void *p)
{
    dpop_case_t *c = p;
    px_auth_dpop_result_t out;

    return px_auth_dpop_verify(&c->req, c->proof, c->len, &out, NULL);
}

typedef struct doc {
    char *text;
    size_t len;
} doc_t;

static int parse_jwks(void *p)
{
    doc_t *d = p;
    px_auth_keyset_t *ks = NULL;
    int rc = px_auth_keyset_parse(d->text, d->len, &ks, NULL);

    px_auth_keyset_free(ks);
    return rc;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 2000, runs = argc > 2 ? atoi(argv[2]) : 7;
    dpop_case_t d;
    doc_t jwks;

    if (argc > 3)
        only = argv[3];
    if (n < 1 || runs < 1 || runs > 64) {
        fprintf(stderr, "usage: bench-auth [N [RUNS (1..64) [ONLY]]]\n");
        return 2;
    }
    bench_jwt("jwt RS256 (2048)", "valid_rs256", n, runs);
    bench_jwt("jwt PS256 (2048)", "valid_ps256", n, runs);
    bench_jwt("jwt ES256 (P-256)", "valid_es256", n, runs);
    bench_jwt("jwt ES384 (P-384)", "valid_es384", n, runs);
    px_auth_dpop_req_init(&d.req);
    d.req.method = "POST";
    d.req.uri = "https://mcp.example.com/mcp";
    d.req.now = 1750000000;
    d.proof = slurp(FIX "dpop/valid/proof", &d.len);
    measure("dpop proof ES256", verify_dpop, &d, n, runs);
    jwks.text = slurp(FIX "jwks/ok_every_type/jwks.json", &jwks.len);
    measure("jwks parse (4 keys)", parse_jwks, &jwks, n, runs);
    free(d.proof);
    free(jwks.text);
    return 0;
}
