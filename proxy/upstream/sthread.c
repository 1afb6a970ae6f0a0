/* A backend's stream on a thread of its own (attach.c, httpup.c): the thread
 * owns one end of a socketpair and the event loop gets the other, which
 * upstream.c reads and writes like a child's pipes; closing its end is how
 * the thread reports that the stream ended. The record is shared by the
 * loop and the thread and freed by whoever drops the last reference. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include "upstream.h"

#define FINAL_WAIT_MS 3000

uint64_t px_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void px_sthread_unref(px_sthread_t *t)
{
    if (atomic_fetch_sub(&t->refs, 1) != 1)
        return;
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
    t->destroy(t);
}

int px_sthread_start(px_sthread_t *t, void *(*main)(void *), int *rfd, int *wfd, char *err,
                     size_t errlen)
{
    int sv[2];
    pthread_t id;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        snprintf(err, errlen, "socketpair: %s", strerror(errno));
        t->fd = -1;
        t->destroy(t);
        return MCP_EIO;
    }
    atomic_store(&t->refs, 2);
    atomic_store(&t->stop, 0);
    atomic_store(&t->done, 0);
    t->fd = sv[1];
    if (pthread_create(&id, NULL, main, t) != 0) {
        close(sv[0]);
        px_sthread_unref(t);
        px_sthread_unref(t);
        snprintf(err, errlen, "cannot start a thread");
        return MCP_EIO;
    }
    pthread_detach(id);
    *rfd = sv[0];
    *wfd = dup(sv[0]);
    if (*wfd >= 0)
        return 0;
    snprintf(err, errlen, "dup: %s", strerror(errno));
    close(sv[0]); /* the thread sees EOF and ends */
    px_sthread_stop(t, 0);
    return MCP_EIO;
}

void px_sthread_exit(px_sthread_t *t)
{
    shutdown(t->fd, SHUT_RDWR); /* the loop sees EOF: the stream is down */
    atomic_store(&t->done, 1);
    px_sthread_unref(t);
}

void px_sthread_stop(px_sthread_t *t, int final)
{
    if (!t)
        return;
    atomic_store(&t->stop, 1);
    for (int i = 0; final && i < FINAL_WAIT_MS / 10 && !atomic_load(&t->done); i++)
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    px_sthread_unref(t);
}
