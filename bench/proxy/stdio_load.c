/* stdio-load: the proxy bench's load without a proxy, for what the MCP
 * server alone contributes (bench/proxy/run.sh). It starts the server, does
 * the handshake, then keeps one tools/call in flight per simulated session
 * over the server's stdin/stdout, as the 16 wrk sessions do through a
 * proxy, and prints mcp.lua's RESULT line for each round: calls/s (answers
 * with a result and "isError":false only) and the latency percentiles of
 * the round, from a histogram of 100 µs buckets, which is appended to the
 * file HIST names, if set ("bucket count" lines, as mcp.lua writes them).
 *
 *   stdio-load -c SESSIONS -d SECONDS [-r ROUNDS] [-w WARMUP_SECONDS] [-s] [-m] -- CMD ARGS...
 *   env: TOOL, ARGS (a JSON object), HIST, as for mcp.lua
 *
 * One server process serves every round, as one serves a proxy's. With -s
 * each round waits for a line on stdin (and none comes after EOF), so that
 * the bench can run the rounds in turn with the proxies' rounds. With -m the
 * calls are 2026-07-28 requests (no handshake; the _meta mcp-proxy adds when
 * it bridges a handshake-era client to a 2026-07-28 server) instead of
 * handshake-era ones. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#define BUCKET_US 100
#define BUCKETS   20000 /* 2 s; slower calls count in the last bucket */
#define LINE_MAX  (1 << 20)

typedef struct {
    FILE *to;
    int from;
    const char *meta; /* "" (handshake era), or the 2026-07-28 _meta member */
    char buf[LINE_MAX];
    size_t len;
} server_t;

typedef struct {
    uint64_t sent_ns;
    long long calls; /* its ids are calls * n + its index */
    long long ok;
    int busy;
} session_t;

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int start(server_t *s, char **argv)
{
    int in[2], out[2];
    pid_t pid;

    if (pipe(in) != 0 || pipe(out) != 0)
        return -1;
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]), close(in[1]), close(out[0]), close(out[1]);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    s->to = fdopen(in[1], "w");
    s->from = out[0];
    return s->to ? 0 : -1;
}

/* The next line from the server, NUL-terminated in s->buf, or NULL at its
 * end or when nothing came within timeout_ms; *eof tells which. */
static char *next_line(server_t *s, int timeout_ms, int *eof)
{
    static size_t used; /* bytes of the line returned last time */

    memmove(s->buf, s->buf + used, s->len - used);
    s->len -= used;
    used = 0;
    *eof = 0;
    for (;;) {
        char *nl = memchr(s->buf, '\n', s->len);
        struct pollfd p = {.fd = s->from, .events = POLLIN};
        ssize_t n;

        if (nl) {
            *nl = '\0';
            used = (size_t)(nl - s->buf) + 1;
            return s->buf;
        }
        if (s->len == sizeof(s->buf)) /* longer than any answer here: drop it */
            s->len = 0;
        if (poll(&p, 1, timeout_ms) <= 0)
            return NULL;
        n = read(s->from, s->buf + s->len, sizeof(s->buf) - s->len);
        if (n <= 0 && !(n < 0 && errno == EINTR)) {
            *eof = 1;
            return NULL;
        }
        s->len += n > 0 ? (size_t)n : 0;
    }
}

static long long id_of(const char *line)
{
    const char *p = strstr(line, "\"id\":");

    return p ? strtoll(p + 5, NULL, 10) : -1;
}

static int handshake(server_t *s)
{
    int eof;
    char *line;

    fprintf(s->to, "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{"
                   "\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},"
                   "\"clientInfo\":{\"name\":\"bench\",\"version\":\"1\"}}}\n");
    fflush(s->to);
    while ((line = next_line(s, 30000, &eof)) && id_of(line) != 0)
        ;
    if (!line)
        return -1;
    fprintf(s->to, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n");
    fflush(s->to);
    return 0;
}

static void call(server_t *s, session_t *ss, int n, int i, const char *tool, const char *args)
{
    long long id = ++ss[i].calls * n + i;

    ss[i].busy = 1;
    ss[i].sent_ns = now_ns();
    fprintf(s->to,
            "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"method\":\"tools/call\",\"params\":{\"name\":"
            "\"%s\",\"arguments\":%s%s}}\n",
            id, tool, args, s->meta);
}

static long long percentile(const uint32_t *hist, long long total, double q)
{
    long long want = (long long)(q * (double)total + 0.999999), seen = 0;

    for (int b = 0; b < BUCKETS; b++)
        if ((seen += hist[b]) >= want && want > 0)
            return (long long)(b + 1) * BUCKET_US;
    return 0;
}

static void append_hist(const uint32_t *hist)
{
    const char *path = getenv("HIST");
    FILE *f = path && *path ? fopen(path, "a") : NULL;

    if (!f)
        return;
    for (int b = 0; b < BUCKETS; b++)
        if (hist[b])
            fprintf(f, "%d %u\n", b, hist[b]);
    fclose(f);
}

/* One round of `seconds`: every session calls again as soon as its answer
 * came; the calls still in flight at the end are waited for, not counted. */
static int round_run(server_t *s, int n, double seconds, int report)
{
    const char *tool = getenv("TOOL") ? getenv("TOOL") : "get_current_time";
    const char *args = getenv("ARGS") ? getenv("ARGS") : "{\"timezone\":\"UTC\"}";
    session_t *ss = calloc((size_t)n, sizeof(*ss));
    uint32_t *hist = calloc((size_t)(n + 1) * BUCKETS, sizeof(*hist)); /* all, then each session */
    uint64_t t0 = now_ns(), end = t0 + (uint64_t)(seconds * 1e9);
    long long ok = 0, failed = 0, inflight = 0, smin = 0, smax = 0;
    int eof = 0;

    if (!ss || !hist)
        return -1;
    for (int i = 0; i < n; i++, inflight++)
        call(s, ss, n, i, tool, args);
    fflush(s->to);
    while (inflight > 0) {
        char *line = next_line(s, 10000, &eof);
        long long id = line ? id_of(line) : -1;
        uint64_t t = now_ns();

        if (!line)
            break;
        if (id < n || id / n != ss[id % n].calls || !ss[id % n].busy)
            continue; /* a notification, or not an answer we wait for */
        ss[id % n].busy = 0;
        inflight--;
        if (strstr(line, "\"result\"") && strstr(line, "\"isError\":false")) {
            uint64_t us = (t - ss[id % n].sent_ns) / 1000;
            size_t b = us / BUCKET_US < BUCKETS ? us / BUCKET_US : BUCKETS - 1;

            hist[b]++;
            hist[(size_t)(id % n + 1) * BUCKETS + b]++;
            ss[id % n].ok++;
            ok++;
        } else {
            failed++;
        }
        if (t < end) { /* the same session calls again */
            call(s, ss, n, (int)(id % n), tool, args);
            inflight++;
            fflush(s->to);
        }
    }
    for (int i = 0; i < n; i++) {
        long long p = percentile(hist + (size_t)(i + 1) * BUCKETS, ss[i].ok, 0.99);

        smin = i == 0 || p < smin ? p : smin;
        smax = p > smax ? p : smax;
    }
    if (report) {
        append_hist(hist);
        printf("RESULT rps=%.0f p50_us=%lld p90_us=%lld p99_us=%lld p999_us=%lld max_us=%lld "
               "sess_p99_min_us=%lld sess_p99_max_us=%lld requests=%lld calls_ok=%lld "
               "calls_failed=%lld errors=%d non2xx=0\n",
               (double)ok / seconds, percentile(hist, ok, 0.5), percentile(hist, ok, 0.9),
               percentile(hist, ok, 0.99), percentile(hist, ok, 0.999), percentile(hist, ok, 1.0),
               smin, smax, ok + failed, ok, failed, eof || inflight > 0);
    }
    fflush(stdout);
    free(ss);
    free(hist);
    return eof || inflight > 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
    static server_t s;
    int n = 16, rounds = 1, step = 0, modern = 0, opt, rc = 0;
    char go[64];
    double seconds = 10, warmup = 2;

    while ((opt = getopt(argc, argv, "c:d:mr:w:s")) != -1) {
        if (opt == 'c')
            n = atoi(optarg);
        else if (opt == 'd')
            seconds = atof(optarg);
        else if (opt == 'r')
            rounds = atoi(optarg);
        else if (opt == 'w')
            warmup = atof(optarg);
        else if (opt == 's')
            step = 1;
        else if (opt == 'm')
            modern = 1;
        else
            return 2;
    }
    if (optind >= argc || n < 1 || seconds <= 0 || rounds < 1) {
        fprintf(stderr,
                "usage: stdio-load -c SESSIONS -d SECONDS [-r ROUNDS] [-w WARMUP] [-s] [-m] -- "
                "CMD ARGS...\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    s.meta = modern
                 ? ",\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
                   "\"io.modelcontextprotocol/clientCapabilities\":{},"
                   "\"io.modelcontextprotocol/clientInfo\":{\"name\":\"bench\",\"version\":\"1\"}}"
                 : "";
    if (start(&s, argv + optind) != 0 || (!modern && handshake(&s) != 0)) {
        fprintf(stderr, "stdio-load: the server did not start or answer initialize\n");
        return 1;
    }
    if (warmup > 0)
        rc = round_run(&s, n, warmup, 0);
    for (int r = 0; r < rounds && rc == 0 && (!step || fgets(go, sizeof(go), stdin)); r++)
        rc = round_run(&s, n, seconds, 1);
    fclose(s.to);
    close(s.from);
    wait(NULL);
    return rc ? 1 : 0;
}
