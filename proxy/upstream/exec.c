/* The exec backend: the MCP server as a child process over pipes
 * (`mcp-proxy --exec -- CMD ARGS...`). Spawning is posix_spawnp (no
 * blocking in the loop); the child gets its own process group so that a
 * server that forks helpers (npx, uv) is stopped whole. Closing sends
 * SIGTERM to the group and reaps without waiting; the final close at
 * shutdown closes stdin first (the graceful stdio shutdown), then waits a
 * little, then SIGTERM, then SIGKILL. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include "mcp/log.h"
#include "upstream.h"

#define MAX_ZOMBIES 16

extern char **environ;

typedef struct exec_be {
    px_backend_t super;
    char **argv;
    pid_t pid;
    int stdin_fd;             /* our copy, closed first on the final close */
    pid_t dying[MAX_ZOMBIES]; /* stopped children not reaped yet */
} exec_be_t;

static int pipe_nb(int p[2])
{
    return pipe2(p, O_CLOEXEC);
}

static int exec_open(px_backend_t *be, int *rfd, int *wfd, int *efd, char *err, size_t errlen)
{
    exec_be_t *e = (exec_be_t *)be;
    int in[2] = {-1, -1}, out[2] = {-1, -1}, er[2] = {-1, -1};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int rc;

    if (pipe_nb(in) != 0 || pipe_nb(out) != 0 || pipe_nb(er) != 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        goto fail;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, er[1], 2);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                        POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&attr, 0);
    {
        sigset_t none, all;

        sigemptyset(&none);
        sigfillset(&all);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setsigdefault(&attr, &all);
    }
    rc = posix_spawnp(&e->pid, e->argv[0], &fa, &attr, e->argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        snprintf(err, errlen, "cannot run %s: %s", e->argv[0], strerror(rc));
        e->pid = -1;
        goto fail;
    }
    close(in[0]);
    close(out[1]);
    close(er[1]);
    fcntl(in[1], F_SETFL, O_NONBLOCK);
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    fcntl(er[0], F_SETFL, O_NONBLOCK);
    *rfd = out[0];
    *wfd = in[1];
    *efd = er[0];
    {
        char pid[16];

        snprintf(pid, sizeof(pid), "%d", (int)e->pid);
        mcp_log(MCP_LOG_INFO, "mcp server started", "pid", pid, "command", e->argv[0], NULL);
    }
    return 0;
fail:
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0)
            close(in[i]);
        if (out[i] >= 0)
            close(out[i]);
        if (er[i] >= 0)
            close(er[i]);
    }
    return MCP_EIO;
}

static void log_exit(pid_t pid, int status)
{
    char p[16], how[48];

    snprintf(p, sizeof(p), "%d", (int)pid);
    if (WIFEXITED(status))
        snprintf(how, sizeof(how), "exit %d", WEXITSTATUS(status));
    else
        snprintf(how, sizeof(how), "signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    mcp_log(MCP_LOG_INFO, "mcp server exited", "pid", p, "status", how, NULL);
}

static int exec_tick(px_backend_t *be, uint64_t now_ms)
{
    exec_be_t *e = (exec_be_t *)be;
    int status;

    (void)now_ms;
    for (int i = 0; i < MAX_ZOMBIES; i++)
        if (e->dying[i] > 0 && waitpid(e->dying[i], &status, WNOHANG) == e->dying[i]) {
            log_exit(e->dying[i], status);
            e->dying[i] = 0;
        }
    return 0;
}

static int wait_ms(pid_t pid, int ms)
{
    int status;

    for (int i = 0; i < ms / 10; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
            log_exit(pid, status);
            return 1;
        }
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    return 0;
}

static void exec_close(px_backend_t *be, int final)
{
    exec_be_t *e = (exec_be_t *)be;
    pid_t pid = e->pid;

    e->pid = -1;
    if (pid <= 0)
        return;
    if (final) { /* stdin is closed already (upstream closed its sockets) */
        if (wait_ms(pid, 2000))
            return;
        kill(-pid, SIGTERM);
        if (wait_ms(pid, 3000))
            return;
        kill(-pid, SIGKILL);
        wait_ms(pid, 1000);
        return;
    }
    kill(-pid, SIGTERM);
    for (int i = 0; i < MAX_ZOMBIES; i++)
        if (e->dying[i] <= 0) {
            e->dying[i] = pid;
            return;
        }
    kill(-pid, SIGKILL);
    waitpid(pid, NULL, 0); /* only when 16 children refuse to die: bounded by SIGKILL */
}

static void exec_free(px_backend_t *be)
{
    exec_be_t *e = (exec_be_t *)be;

    for (int i = 0; i < MAX_ZOMBIES; i++)
        if (e->dying[i] > 0) {
            kill(-e->dying[i], SIGKILL);
            waitpid(e->dying[i], NULL, 0);
        }
    free(e);
}

px_backend_t *px_exec_new(char **argv)
{
    exec_be_t *e = calloc(1, sizeof(*e));

    if (!e)
        return NULL;
    e->super.name = "exec";
    e->super.open = exec_open;
    e->super.close = exec_close;
    e->super.tick = exec_tick;
    e->super.free = exec_free;
    e->argv = argv;
    e->pid = -1;
    e->stdin_fd = -1;
    return &e->super;
}

int px_exec_pid(const px_backend_t *be)
{
    return ((const exec_be_t *)be)->pid;
}
