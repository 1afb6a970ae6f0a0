/* Implementation of the shared test helpers (see testutil.h). */
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "testutil.h"

char *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
        goto out;
    buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
        goto out;
    }
    if (buf) {
        buf[n] = '\0';
        if (len)
            *len = (size_t)n;
    }
out:
    fclose(f);
    return buf;
}

json_t *tu_load_json(const char *path)
{
    json_error_t err;
    json_t *j = json_load_file(path, 0, &err);

    if (!j)
        fail_msg("%s:%d: %s", path, err.line, err.text);
    return j;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char **list_entries(const char *dir, int want_dirs)
{
    DIR *d = opendir(dir);
    char **list = calloc(1, sizeof(char *));
    size_t n = 0;
    struct dirent *e;

    assert_non_null(list);
    if (!d)
        return list;
    while ((e = readdir(d)) != NULL) {
        char path[4096];
        struct stat st;

        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (stat(path, &st) != 0 || (want_dirs ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)))
            continue;
        list = realloc(list, (n + 2) * sizeof(char *));
        assert_non_null(list);
        list[n++] = strdup(e->d_name);
        list[n] = NULL;
    }
    closedir(d);
    qsort(list, n, sizeof(char *), cmp_str);
    return list;
}

char **tu_list_dirs(const char *dir)
{
    return list_entries(dir, 1);
}

char **tu_list_files(const char *dir)
{
    return list_entries(dir, 0);
}

void tu_free_list(char **list)
{
    for (size_t i = 0; list && list[i]; i++)
        free(list[i]);
    free(list);
}

static void mkdirs(const char *path)
{
    char tmp[4096];

    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                return;
            *p = '/';
        }
    }
}

int tu_write_file(const char *path, const char *s)
{
    FILE *f;
    int rc = 0;

    mkdirs(path);
    f = fopen(path, "wb");
    if (!f)
        return -1;
    if (fputs(s, f) < 0)
        rc = -1;
    if (fclose(f) != 0)
        rc = -1;
    return rc;
}

int tu_update_golden(void)
{
    const char *v = getenv("MCP_UPDATE_GOLDEN");
    return v && strcmp(v, "1") == 0;
}

char *tu_json_nested(int levels, const char *leaf)
{
    size_t n = strlen(leaf);
    char *p = malloc((size_t)levels * 2 + n + 1);

    if (!p)
        return NULL;
    memset(p, '[', (size_t)levels);
    memcpy(p + levels, leaf, n);
    memset(p + levels + n, ']', (size_t)levels);
    p[levels * 2 + n] = '\0';
    return p;
}

char *tu_json_zeros(size_t n)
{
    char *p = malloc(n * 2 + 2);
    size_t o = 0;

    if (!p)
        return NULL;
    p[o++] = '[';
    for (size_t i = 0; i < n; i++) {
        p[o++] = '0';
        p[o++] = i + 1 < n ? ',' : ']';
    }
    p[o] = '\0';
    return p;
}

void tu_pathf(char *out, size_t n, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(out, n, fmt, ap);
    va_end(ap);
}

double tu_now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void tu_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

int tu_free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

int tu_build_path(char *out, size_t n, const char *name)
{
    char exe[512];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

    if (len <= 0)
        return -1;
    exe[len] = '\0';
    tu_pathf(out, n, "%s/../../%s", dirname(exe), name);
    return 0;
}
