/* lx-bench-rpc: the per-call cost of the X-Chain JSON-RPC client against a
 * bare libcurl POST of the same request to the same server, in one run. */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lx/bridge.h"

#define RUNS 5
#define CHUNKS 20
#define REQ_MAX 65536

static const char BODY[] =
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"xvm.getHeight\",\"params\":{}}";

static void usage(FILE *f)
{
    fprintf(f,
            "usage: lx-bench-rpc [--url URL] [--calls N]\n"
            "\n"
            "Times N xvm.getHeight calls through the JSON-RPC client and N bare\n"
            "libcurl POSTs of the same request, %d runs each, and prints the\n"
            "medians per call and their ratio (client / bare).\n"
            "\n"
            "  --url URL   a node or lx-devnet to call, e.g. http://127.0.0.1:9630\n"
            "              (default: a built-in HTTP server on 127.0.0.1)\n"
            "  --calls N   calls per run (default 2000)\n"
            "  --help      this text\n",
            RUNS);
}

/* ---- the built-in server: answers every POST with a height ---- */

/* Reads one request; returns its JSON-RPC id (or 0), -1 on EOF or error. */
static long read_request(int fd, char *buf, size_t *have)
{
    for (;;) {
        buf[*have] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (end != NULL) {
            size_t hdr = (size_t)(end - buf) + 4, clen = 0;
            const char *cl = strstr(buf, "Content-Length:");
            if (cl == NULL)
                cl = strstr(buf, "content-length:");
            if (cl != NULL && cl < end)
                clen = (size_t)strtoul(cl + 15, NULL, 10);
            if (hdr + clen > REQ_MAX - 1)
                return -1;
            if (hdr + clen <= *have) {
                long id = 0;
                char save = buf[hdr + clen];
                buf[hdr + clen] = '\0';
                const char *p = strstr(buf + hdr, "\"id\":");
                if (p != NULL)
                    id = strtol(p + 5, NULL, 10);
                buf[hdr + clen] = save;
                memmove(buf, buf + hdr + clen, *have - hdr - clen);
                *have -= hdr + clen;
                return id;
            }
        }
        if (*have >= REQ_MAX - 1)
            return -1;
        ssize_t r = recv(fd, buf + *have, REQ_MAX - 1 - *have, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        *have += (size_t)r;
    }
}

static void *serve_connection(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char *buf = malloc(REQ_MAX);
    size_t have = 0;
    long id;
    while (buf != NULL && (id = read_request(fd, buf, &have)) >= 0) {
        char body[128], out[256];
        int blen =
            snprintf(body, sizeof body,
                     "{\"jsonrpc\":\"2.0\",\"result\":{\"height\":\"123456\"},\"id\":%ld}", id);
        int n = snprintf(out, sizeof out,
                         "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         "Content-Length: %d\r\n\r\n%s",
                         blen, body);
        if (send(fd, out, (size_t)n, MSG_NOSIGNAL) != n)
            break;
    }
    free(buf);
    close(fd);
    return NULL;
}

static void *serve(void *arg)
{
    int lfd = (int)(intptr_t)arg;
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return NULL;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pthread_t t;
        if (pthread_create(&t, NULL, serve_connection, (void *)(intptr_t)fd) != 0)
            close(fd);
        else
            pthread_detach(t);
    }
}

static int start_server(char *url, size_t cap)
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 16) != 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &alen) != 0)
        return -1;
    snprintf(url, cap, "http://127.0.0.1:%u", (unsigned)ntohs(a.sin_port));
    pthread_t t;
    if (pthread_create(&t, NULL, serve, (void *)(intptr_t)lfd) != 0)
        return -1;
    pthread_detach(t);
    return 0;
}

/* ---- timing ---- */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof v[0], cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Microseconds per getHeight through the client. */
static int time_client(double *us, lx_rpc *c, uint32_t calls)
{
    uint64_t h = 0;
    uint64_t t0 = now_ns();
    for (uint32_t i = 0; i < calls; i++) {
        lx_err err = lx_rpc_get_height(c, &h);
        if (err != LX_OK) {
            fprintf(stderr, "lx-bench-rpc: getHeight: %s: %s\n", lx_strerror(err),
                    lx_rpc_last_error(c, NULL, NULL));
            return -1;
        }
    }
    *us = (double)(now_ns() - t0) / 1e3 / calls;
    return 0;
}

static int time_bare(double *us, const char *url, uint32_t calls)
{
    uint64_t ns = 0;
    lx_err err = lx_rpc_bench_bare_posts(&ns, url, BODY, calls);
    if (err != LX_OK) {
        fprintf(stderr, "lx-bench-rpc: bare POST: %s\n", lx_strerror(err));
        return -1;
    }
    *us = (double)ns / 1e3 / calls;
    return 0;
}

int main(int argc, char **argv)
{
    const char *url = NULL;
    unsigned long calls = 2000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--url") == 0 && i + 1 < argc) {
            url = argv[++i];
        } else if (strcmp(argv[i], "--calls") == 0 && i + 1 < argc) {
            char *end = NULL;
            errno = 0;
            calls = strtoul(argv[++i], &end, 10);
            if (errno != 0 || end == argv[i] || *end != '\0' || calls == 0 || calls > 10000000) {
                fprintf(stderr, "lx-bench-rpc: --calls wants 1..10000000\n");
                return 2;
            }
        } else {
            usage(stderr);
            return 2;
        }
    }
    char own[64];
    if (url == NULL) {
        if (start_server(own, sizeof own) != 0) {
            fprintf(stderr, "lx-bench-rpc: cannot start the built-in server\n");
            return 1;
        }
        url = own;
    }
    char chain_url[512];
    snprintf(chain_url, sizeof chain_url, "%s/ext/bc/X", url);

    lx_rpc *c = NULL;
    if (lx_rpc_new(&c, url, NULL) != LX_OK) {
        fprintf(stderr, "lx-bench-rpc: bad --url %s\n", url);
        return 2;
    }
    /* Warm up: connect and settle the method prefix, outside the timing. */
    double warm;
    if (time_client(&warm, c, 1) != 0) {
        lx_rpc_free(&c);
        return 1;
    }
    if (strcmp(lx_rpc_prefix_name(c), "xvm") != 0)
        fprintf(stderr, "lx-bench-rpc: note: the node speaks %s.*, the bare POST asks xvm.*\n",
                lx_rpc_prefix_name(c));
    printf("lx-bench-rpc: %lu getHeight calls x %d runs against %s%s\n", calls, RUNS, url,
           url == own ? " (built-in server)" : "");
    /* Each run interleaves CHUNKS slices of both sides and keeps the median
     * slice of each, so a burst of load on a shared machine hits both sides
     * alike and does not decide a run. */
    uint32_t chunk = (uint32_t)(calls / CHUNKS ? calls / CHUNKS : 1);
    double client_us[RUNS], bare_us[RUNS], client_best = 0, bare_best = 0;
    for (int r = 0; r < RUNS; r++) {
        double cs[CHUNKS], bs[CHUNKS];
        for (int k = 0; k < CHUNKS; k++) {
            /* alternate the order so neither side always goes first */
            int rc = (k % 2 == 0)
                         ? (time_client(&cs[k], c, chunk) || time_bare(&bs[k], chain_url, chunk))
                         : (time_bare(&bs[k], chain_url, chunk) || time_client(&cs[k], c, chunk));
            if (rc != 0) {
                lx_rpc_free(&c);
                return 1;
            }
        }
        client_us[r] = median(cs, CHUNKS);
        bare_us[r] = median(bs, CHUNKS);
        /* median() sorted the slices: [0] is the fastest */
        if (r == 0 || cs[0] < client_best)
            client_best = cs[0];
        if (r == 0 || bs[0] < bare_best)
            bare_best = bs[0];
        printf("run %d: client %.2f us/call  bare %.2f us/call\n", r + 1, client_us[r], bare_us[r]);
    }
    double mc = median(client_us, RUNS), mb = median(bare_us, RUNS);
    printf("median: client %.2f us/call  bare %.2f us/call  ratio %.3f (target <= 1.20)\n", mc, mb,
           mc / mb);
    printf("fastest slice: client %.2f us/call  bare %.2f us/call  ratio %.3f\n", client_best,
           bare_best, client_best / bare_best);
    lx_rpc_free(&c);
    return 0;
}
