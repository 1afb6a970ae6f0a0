/* The fetcher thread of authn.c (authfetch.c): HTTP(S) GETs and POSTs with
 * libcurl off the loop, answered on the loop. */
#ifndef PX_AUTHFETCH_H
#define PX_AUTHFETCH_H

#include <h2o.h>
#include <h2o/multithread.h>

#include "mcp/buf.h"

typedef struct px_fetch_job {
    h2o_multithread_message_t super; /* the queue link, then the message back */
    int kind;                        /* the caller's: what the answer is for */
    char *url;                       /* owned */
    char *post;                      /* owned: an x-www-form-urlencoded body (POST), or NULL */
    char *user, *password;           /* owned: HTTP Basic (RFC 7662 §2.1 client auth), or NULL */
    const char *ca_file;             /* borrowed: CA bundle (NULL: the system's) */
    const char *bearer_file;         /* borrowed: a token file sent as Bearer, or NULL */
    int allow_private;               /* connect to non-public addresses too */
    unsigned char digest[32];        /* the caller's: the token an introspection is for */
    /* the answer */
    long status;    /* HTTP status, 0 when none came */
    mcp_buf_t body; /* capped by the caller's mcp_buf_init */
    char err[160];  /* why there is no answer */
} px_fetch_job_t;

typedef struct px_fetcher px_fetcher_t;
typedef void (*px_fetch_done_cb)(void *ctx, px_fetch_job_t *job); /* owns job */

/* A fetcher whose answers run done(ctx, job) on loop. NULL when out of
 * resources. libcurl must be loaded (px_curl_load). */
px_fetcher_t *px_fetcher_new(h2o_loop_t *loop, px_fetch_done_cb done, void *ctx);
/* Queue job (taken over, freed on refusal): 0, or -1 when the queue is full
 * or stopping. */
int px_fetcher_submit(px_fetcher_t *f, px_fetch_job_t *job);
void px_fetcher_free(px_fetcher_t *f);
void px_fetch_job_free(px_fetch_job_t *job);

#endif
