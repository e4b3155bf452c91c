/* lx-bench-settle: times building one settlement batch (fill leaves, the
 * Merkle root and tree, netting, encoding and the batch hash) and prints the
 * median time and fills per second against the target. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lx/node.h"

static const char usage[] =
    "usage: lx-bench-settle [--fills N] [--accounts N] [--runs N] [--help]\n"
    "\n"
    "Builds settlement batches of N fills with the batch builder and prints the\n"
    "median over the runs of: adding the fills (leaf encoding, netting), closing\n"
    "the batch (leaf hashes, Merkle tree and root, sorted net changes and their\n"
    "root, the conservation check, the batch hash) and encoding it, in wall time\n"
    "and in CPU time of the process (all threads; on a busy machine the wall time\n"
    "includes waiting for a core). The\n"
    "fills are made up beforehand, outside the timing: 8 markets, accounts drawn\n"
    "with a skew toward the active ones, 64 fills per log block, maker and taker\n"
    "fees, and one deposit and one withdrawal every 1000 fills. One builder makes\n"
    "an untimed first batch and then the timed ones, as a node reuses its\n"
    "builder. It runs with closing on one thread, then with one helper thread.\n"
    "\n"
    "  --fills N      fills per batch (default 100000)\n"
    "  --accounts N   trading accounts (default 10000)\n"
    "  --runs N       runs, the median is printed (default 5)\n"
    "  --help         show this text\n"
    "\n"
    "The target is at most 50 ms for 100000 fills.\n";

#define MARKETS 8
#define ASSETS 6
#define FILLS_PER_BLOCK 64
#define FEE_ACCOUNT 1000000000u

static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Markets over six assets: base, quote, lot, a mid price in ticks. */
static const struct {
    uint32_t base, quote;
    uint64_t lot, mid;
} markets[MARKETS] = {
    {0, 1, 1000, 6500000}, {2, 1, 10000, 340000}, {3, 1, 100000, 15000}, {4, 1, 1000000, 700},
    {2, 0, 10000, 5200},   {3, 0, 100000, 230},   {5, 1, 1000000, 100},  {4, 2, 1000000, 20},
};

/* Skewed account choice: a few accounts trade most. */
static uint64_t pick_account(uint64_t accounts)
{
    uint64_t r = next_rand();
    uint64_t span = (r & 3) == 0 ? accounts : (r & 3) == 1 ? accounts / 10 : accounts / 100;
    if (span == 0)
        span = 1;
    return 1 + (r >> 8) % span;
}

static void make_fills(lx_event *evs, size_t n, uint64_t accounts)
{
    for (size_t i = 0; i < n; i++) {
        lx_event *ev = &evs[i];
        memset(ev, 0, sizeof *ev);
        uint64_t r = next_rand();
        uint32_t m = (uint32_t)(r % MARKETS);
        ev->type = LX_EV_FILL;
        ev->cmd = LX_CMD_ORDER;
        ev->side = (uint8_t)((r >> 8) & 1);
        ev->market = m;
        ev->id = 1000000 + i;
        ev->account = pick_account(accounts);
        ev->u.fill.maker = 1 + i / 2;
        do
            ev->u.fill.maker_account = pick_account(accounts);
        while (ev->u.fill.maker_account == ev->account);
        uint64_t mid = markets[m].mid; /* within half a percent of the mid */
        ev->u.fill.price = mid - mid / 200 + (r >> 16) % (mid / 100 + 1);
        ev->u.fill.qty = 1 + (r >> 32) % 50;
        uint64_t notional = ev->u.fill.price * ev->u.fill.qty;
        ev->u.fill.maker_fee = (notional * 2 + 9999) / 10000;
        ev->u.fill.taker_fee = (notional * 5 + 9999) / 10000;
    }
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int die(const char *what, lx_err err)
{
    fprintf(stderr, "lx-bench-settle: %s: %s\n", what, lx_strerror(err));
    return 1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static lx_err new_builder(lx_batch_builder **b, uint32_t threads)
{
    lx_batch_config cfg;
    memset(&cfg, 0, sizeof cfg);
    memset(cfg.channel_id, 0x5c, sizeof cfg.channel_id);
    cfg.fee_account = FEE_ACCOUNT;
    memset(cfg.fee_asset, 0xa1, sizeof cfg.fee_asset);
    cfg.tx_fee = 1000000;
    cfg.next_number = 1;
    cfg.next_seq = 1;
    cfg.threads = threads;
    lx_err err = lx_batch_builder_new(b, &cfg);
    for (uint32_t a = 0; err == LX_OK && a < ASSETS; a++) {
        uint8_t id[32];
        memset(id, (int)(0xa1 + 7 * a), sizeof id);
        err = lx_batch_builder_add_asset(*b, a, id);
    }
    for (uint32_t m = 0; err == LX_OK && m < MARKETS; m++)
        err = lx_batch_builder_add_market(*b, m, markets[m].base, markets[m].quote, markets[m].lot);
    if (err != LX_OK)
        lx_batch_builder_free(b);
    return err;
}

/* One timed batch on builder b, whose next block is *seq. Writes the add,
 * close and encode times and the CPU time of all three in ms. */
static lx_err build_once(lx_batch_builder *b, uint64_t *seq, const lx_event *evs, size_t n,
                         uint64_t accounts, double t[4], size_t *enc_len, uint32_t *net_count)
{
    uint8_t dest[20] = {0x22};
    lx_err err = LX_OK;
    double c0 = cpu_ms(), t0 = now_ms();
    for (size_t i = 0; i < n && err == LX_OK; i++) {
        if (i && i % FILLS_PER_BLOCK == 0)
            (*seq)++;
        err = lx_batch_builder_add_fill(b, *seq, &evs[i]);
        if (err == LX_OK && i % 1000 == 999) {
            uint64_t acct = 1 + (i / 1000) % accounts;
            err = lx_batch_builder_add_deposit(b, *seq, acct, 1, 5000000);
            if (err == LX_OK)
                err = lx_batch_builder_add_withdrawal(b, *seq, acct, 1, 2500000, dest);
        }
    }
    double t1 = now_ms();
    lx_batch *batch = NULL;
    if (err == LX_OK)
        err = lx_batch_builder_close(b, &batch, *seq);
    double t2 = now_ms();
    uint8_t *enc = NULL;
    if (err == LX_OK) {
        size_t len = lx_batch_encoded_len(batch);
        enc = malloc(len);
        err = enc ? lx_batch_encode(batch, enc, len, enc_len) : LX_ENOMEM;
    }
    double t3 = now_ms(), c3 = cpu_ms();
    if (err == LX_OK) {
        lx_batch_info info;
        lx_batch_info_get(batch, &info);
        *net_count = info.net_count;
    }
    (*seq)++;
    t[0] = t1 - t0;
    t[1] = t2 - t1;
    t[2] = t3 - t2;
    t[3] = c3 - c0;
    free(enc);
    lx_batch_free(&batch);
    return err;
}

/* Builds a warm-up batch and then runs timed ones on one builder, as a node
 * does, and prints the medians. Returns the median total in ms, or < 0. */
static double measure(const lx_event *evs, size_t fills, size_t accounts, size_t runs,
                      uint32_t threads)
{
    lx_batch_builder *b = NULL;
    lx_err err = new_builder(&b, threads);
    if (err != LX_OK)
        return die("builder", err), -1;
    double total[101], add[101], close[101], enc[101], cpu[101], t[4];
    size_t enc_len = 0;
    uint32_t net_count = 0;
    uint64_t seq = 1;
    err = build_once(b, &seq, evs, fills, accounts, t, &enc_len, &net_count);
    for (size_t r = 0; r < runs && err == LX_OK; r++) {
        err = build_once(b, &seq, evs, fills, accounts, t, &enc_len, &net_count);
        add[r] = t[0];
        close[r] = t[1];
        enc[r] = t[2];
        cpu[r] = t[3];
        total[r] = t[0] + t[1] + t[2];
    }
    lx_batch_builder_free(&b);
    if (err != LX_OK)
        return die("build", err), -1;
    qsort(total, runs, sizeof total[0], cmp_double);
    qsort(add, runs, sizeof add[0], cmp_double);
    qsort(close, runs, sizeof close[0], cmp_double);
    qsort(enc, runs, sizeof enc[0], cmp_double);
    qsort(cpu, runs, sizeof cpu[0], cmp_double);
    double med = total[runs / 2];
    printf("threads %u: %u net changes, %zu encoded bytes\n", threads, net_count, enc_len);
    printf("  median of %zu: add %.2f ms, close %.2f ms, encode %.3f ms\n", runs, add[runs / 2],
           close[runs / 2], enc[runs / 2]);
    printf("  build: %.2f ms, %.0f fills/s (min %.2f ms, max %.2f ms), cpu %.2f ms\n", med,
           (double)fills / (med / 1e3), total[0], total[runs - 1], cpu[runs / 2]);
    return med;
}

static int parse_count(const char *s, size_t *out)
{
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (!s[0] || *end || v == 0 || v > 100000000ull)
        return -1;
    *out = (size_t)v;
    return 0;
}

int main(int argc, char **argv)
{
    size_t fills = 100000, accounts = 10000, runs = 5;
    for (int i = 1; i < argc; i++) {
        size_t *dst = NULL;
        if (!strcmp(argv[i], "--help")) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(argv[i], "--fills")) {
            dst = &fills;
        } else if (!strcmp(argv[i], "--accounts")) {
            dst = &accounts;
        } else if (!strcmp(argv[i], "--runs")) {
            dst = &runs;
        }
        if (!dst || i + 1 >= argc || parse_count(argv[++i], dst) != 0) {
            fputs(usage, stderr);
            return 2;
        }
    }
    if (runs > 101)
        runs = 101;
    lx_event *evs = malloc(fills * sizeof *evs);
    if (!evs)
        return die("fills", LX_ENOMEM);
    make_fills(evs, fills, accounts);

    printf("batch of %zu fills over %zu accounts, %d markets\n", fills, accounts, MARKETS);
    double one = measure(evs, fills, accounts, runs, 1);
    double two = one < 0 ? -1 : measure(evs, fills, accounts, runs, 2);
    free(evs);
    if (two < 0)
        return 1;
    double target = 50.0 * (double)fills / 100000.0;
    printf("target: <= %.1f ms for %zu fills: %s with 1 thread, %s with 2\n", target, fills,
           one <= target ? "met" : "NOT met", two <= target ? "met" : "NOT met");
    return 0;
}
