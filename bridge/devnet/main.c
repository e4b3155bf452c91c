/* lx-devnet: a local X-Chain devnet that speaks luxd's JSON-RPC API. This
 * file is its command line and the block clock. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "devnet.h"

#define GENESIS_MAX (64u << 20)

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static void usage(FILE *f)
{
    fputs("usage: lx-devnet [options]\n"
          "A local X-Chain devnet (chains X and Y with shared memory) speaking luxd's\n"
          "JSON-RPC API at /ext/bc/X, /ext/bc/Y, /ext/info and /ext/bc/P.\n"
          "\n"
          "  --port N                  TCP port, 0 picks a free one (default 9630)\n"
          "  --bind ADDR               IP address to listen on (default 127.0.0.1)\n"
          "  --genesis FILE            genesis JSON (default: the built-in genesis)\n"
          "  --data-dir DIR            persist accepted blocks in DIR/blocks.log and\n"
          "                            replay them at start (default: memory only)\n"
          "  --block-ms N              cut a block every N ms, 1..600000 (default 200)\n"
          "  --max-body BYTES          largest request body, 1024..67108864 (default 1048576)\n"
          "  --threads N               HTTP worker threads, 1..64 (default 4)\n"
          "  --log-file FILE           append the block log there instead of stderr\n"
          "  --fault-latency-ms N      delay every request by N ms (default 0)\n"
          "  --fault-503-rate R        answer HTTP 503 to a fraction R of requests, 0..1\n"
          "  --fault-drop-reply-rate R process a fraction R of requests but close the\n"
          "                            connection instead of replying, 0..1\n"
          "  --fault-seed N            seed of the fault decisions (default 1)\n"
          "  --help                    show this help\n",
          f);
}

static bool parse_u64(uint64_t *out, const char *s, uint64_t lo, uint64_t hi)
{
    char *end = NULL;
    if (!s || !*s || *s == '-' || *s == '+')
        return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static bool parse_rate(double *out, const char *s)
{
    char *end = NULL;
    if (!s || !*s)
        return false;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !(v >= 0.0 && v <= 1.0))
        return false;
    *out = v;
    return true;
}

static char *read_file(size_t *len, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 > cap) {
            cap = cap ? cap * 2 : 65536;
            char *p = cap <= GENESIS_MAX ? realloc(buf, cap) : NULL;
            if (!p) {
                free(buf);
                fclose(f);
                errno = EFBIG;
                return NULL;
            }
            buf = p;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        errno = EIO;
        return NULL;
    }
    *len = n;
    return buf;
}

typedef struct opts {
    lx__dn_httpd_cfg http;
    const char *genesis, *data_dir, *log_file;
    uint64_t block_ms;
} opts;

/* Returns 0 to go on, 1 for --help, 2 for a usage error (printed). */
static int parse_args(opts *o, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return 1;
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t n = 0;
        bool ok = v != NULL;
        if (strcmp(a, "--port") == 0) {
            ok = ok && parse_u64(&n, v, 0, 65535);
            o->http.port = (uint16_t)n;
        } else if (strcmp(a, "--bind") == 0) {
            o->http.bind = v;
        } else if (strcmp(a, "--genesis") == 0) {
            o->genesis = v;
        } else if (strcmp(a, "--data-dir") == 0) {
            o->data_dir = v;
        } else if (strcmp(a, "--log-file") == 0) {
            o->log_file = v;
        } else if (strcmp(a, "--block-ms") == 0) {
            ok = ok && parse_u64(&o->block_ms, v, 1, 600000);
        } else if (strcmp(a, "--max-body") == 0) {
            ok = ok && parse_u64(&n, v, 1024, 64u << 20);
            o->http.max_body = (size_t)n;
        } else if (strcmp(a, "--threads") == 0) {
            ok = ok && parse_u64(&n, v, 1, 64);
            o->http.threads = (unsigned)n;
        } else if (strcmp(a, "--fault-latency-ms") == 0) {
            ok = ok && parse_u64(&n, v, 0, 600000);
            o->http.fault_latency_ms = (uint32_t)n;
        } else if (strcmp(a, "--fault-503-rate") == 0) {
            ok = ok && parse_rate(&o->http.fault_503_rate, v);
        } else if (strcmp(a, "--fault-drop-reply-rate") == 0) {
            ok = ok && parse_rate(&o->http.fault_drop_rate, v);
        } else if (strcmp(a, "--fault-seed") == 0) {
            ok = ok && parse_u64(&o->http.fault_seed, v, 0, UINT64_MAX);
        } else {
            fprintf(stderr, "lx-devnet: unknown option %s (see --help)\n", a);
            return 2;
        }
        if (!ok) {
            fprintf(stderr, "lx-devnet: %s %s: %s\n", a, v ? v : "",
                    v ? "bad value (see --help for the range)" : "needs a value");
            return 2;
        }
        i++;
    }
    return 0;
}

static void sleep_ms(uint64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL); /* a signal cuts it short, which is what we want */
}

int main(int argc, char **argv)
{
    opts o = {.http = {.bind = "127.0.0.1",
                       .port = 9630,
                       .max_body = 1u << 20,
                       .threads = 4,
                       .fault_seed = 1},
              .block_ms = 200};
    int r = parse_args(&o, argc, argv);
    if (r == 1) {
        usage(stdout);
        return 0;
    }
    if (r)
        return 2;
    char msg[LX__DN_MSG + 256] = "";
    lx__dn_genesis *g = NULL;
    lx_err err;
    if (o.genesis) {
        size_t len = 0;
        char *text = read_file(&len, o.genesis);
        if (!text) {
            fprintf(stderr, "lx-devnet: --genesis %s: %s\n", o.genesis, strerror(errno));
            return 1;
        }
        err = lx__dn_genesis_parse(&g, msg, sizeof msg, text, len);
        free(text);
    } else {
        err = lx__dn_genesis_default(&g);
    }
    if (err) {
        fprintf(stderr, "lx-devnet: %s\n", *msg ? msg : lx_strerror(err));
        return 1;
    }
    FILE *log = stderr;
    if (o.log_file && !(log = fopen(o.log_file, "a"))) {
        fprintf(stderr, "lx-devnet: --log-file %s: %s\n", o.log_file, strerror(errno));
        lx__dn_genesis_free(&g);
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    lx__dn *d = NULL;
    lx__dn_httpd *h = NULL;
    int rc = 1;
    if ((err = lx__dn_open(&d, msg, sizeof msg, g, o.data_dir, log))) {
        fprintf(stderr, "lx-devnet: %s\n", *msg ? msg : lx_strerror(err));
        goto out;
    }
    if ((err = lx__dn_httpd_start(&h, msg, sizeof msg, &o.http, d))) {
        fprintf(stderr, "lx-devnet: %s\n", *msg ? msg : lx_strerror(err));
        goto out;
    }
    const lx__dn_genesis *gg = lx__dn_genesis_of(d);
    char x[LX_CB58_ID_MAX], y[LX_CB58_ID_MAX];
    lx__dn_id_str(x, sizeof x, gg->chain_id[0]);
    lx__dn_id_str(y, sizeof y, gg->chain_id[1]);
    fprintf(stderr,
            "lx-devnet: listening on http://%s:%u network %u X=%s Y=%s heights X=%llu Y=%llu\n",
            o.http.bind, (unsigned)lx__dn_httpd_port(h), (unsigned)gg->network_id, x, y,
            (unsigned long long)lx__dn_height(d, 0), (unsigned long long)lx__dn_height(d, 1));
    fflush(stderr);
    while (!stopping) {
        sleep_ms(o.block_ms);
        if (stopping)
            break;
        size_t n = 0;
        if ((err = lx__dn_build_blocks(d, &n, (uint64_t)time(NULL))))
            fprintf(log, "lx-devnet: cannot store a block: %s (txs stay pending)\n",
                    lx_strerror(err));
    }
    fprintf(stderr, "lx-devnet: stopping\n");
    rc = 0;
out:
    lx__dn_httpd_stop(&h);
    lx__dn_close(&d);
    if (log != stderr)
        fclose(log);
    return rc;
}
