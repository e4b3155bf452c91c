/* lx-bench-xchain: the X-Chain signing path against raw secp256k1 signing.
 * Prints the raw signing rate, the rate of building, signing and encoding a
 * 2-input/2-output BaseTx (inputs owned by two keys, so two signatures per
 * tx), and the ratio of signatures per second between the two. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lx/bridge.h"

#define RUNS 5

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void die(const char *what, lx_err err)
{
    fprintf(stderr, "lx-bench-xchain: %s: %s\n", what, lx_strerror(err));
    exit(1);
}

typedef struct wallet {
    lx_key *keys[2];
    uint8_t addrs[2][LX_ADDR_LEN];
} wallet;

static const lx_key *lookup(void *arg, const uint8_t addr[LX_ADDR_LEN])
{
    wallet *w = arg;
    for (int i = 0; i < 2; i++)
        if (memcmp(w->addrs[i], addr, LX_ADDR_LEN) == 0)
            return w->keys[i];
    return NULL;
}

/* Signatures per second of the thinnest signing call. */
static double raw_rate(const lx_key *key, long iters)
{
    uint8_t hash[LX_SHA256_LEN], sig[LX_SIG_LEN];
    memset(hash, 0x5a, sizeof hash);
    double t0 = now();
    for (long i = 0; i < iters; i++) {
        memcpy(hash, &i, sizeof i);
        lx_err err = lx_key_sign(key, sig, hash);
        if (err != LX_OK)
            die("sign", err);
    }
    return (double)iters / (now() - t0);
}

/* Transactions per second: build (sort, encode), hash, sign by lookup,
 * encode the signed bytes. */
static double tx_rate(wallet *w, long iters)
{
    uint8_t to[LX_ADDR_LEN];
    memset(to, 0x22, sizeof to);
    static const uint32_t idx0[1] = {0};
    lx_xutxo utxos[2];
    lx_xin ins[2];
    for (int i = 0; i < 2; i++) {
        memset(&utxos[i], 0, sizeof utxos[i]);
        memset(utxos[i].tx_id, 0x11 * (i + 1), LX_ID_LEN);
        utxos[i].output_index = (uint32_t)i;
        utxos[i].out =
            (lx_xout){.amount = 1000000000, .threshold = 1, .naddrs = 1, .addrs = w->addrs[i]};
        memset(utxos[i].out.asset_id, 0xaa, LX_ID_LEN);
        ins[i] = (lx_xin){
            .output_index = (uint32_t)i, .amount = 1000000000, .nsigs = 1, .sig_indices = idx0};
        memcpy(ins[i].tx_id, utxos[i].tx_id, LX_ID_LEN);
        memcpy(ins[i].asset_id, utxos[i].out.asset_id, LX_ID_LEN);
    }
    lx_xout outs[2] = {
        {.amount = 100000000, .threshold = 1, .naddrs = 1, .addrs = to},
        {.amount = 1899000000, .threshold = 1, .naddrs = 1, .addrs = w->addrs[0]},
    };
    memset(outs[0].asset_id, 0xaa, LX_ID_LEN);
    memset(outs[1].asset_id, 0xaa, LX_ID_LEN);
    uint8_t memo[8];
    lx_tx_spec spec = {.kind = LX_TX_BASE,
                       .network_id = 12345,
                       .nouts = 2,
                       .outs = outs,
                       .nins = 2,
                       .ins = ins,
                       .memo = memo,
                       .memo_len = sizeof memo};
    memset(spec.blockchain_id, 0xbc, LX_ID_LEN);
    uint8_t buf[1024];
    double t0 = now();
    for (long i = 0; i < iters; i++) {
        memcpy(memo, &i, sizeof memo); /* every tx differs */
        lx_tx *tx = NULL;
        size_t n = 0;
        lx_err err = lx_tx_build(&tx, &spec);
        if (err == LX_OK)
            err = lx_tx_sign_lookup(tx, lookup, w, utxos, 2);
        if (err == LX_OK)
            err = lx_tx_encode(tx, buf, sizeof buf, &n);
        if (err != LX_OK)
            die("tx", err);
        lx_tx_free(&tx);
    }
    return (double)iters / (now() - t0);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: lx-bench-xchain [--iterations N]\n"
            "  Signs N hashes with the secp256k1 adapter, then builds, signs and encodes\n"
            "  N 2-input/2-output BaseTx (two signatures each), %d runs of each; prints\n"
            "  the medians and the ratio of tx signatures/s to raw signatures/s.\n"
            "  --iterations N   per run (default 2000)\n",
            RUNS);
}

int main(int argc, char **argv)
{
    long iters = 2000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc) {
            char *end = NULL;
            iters = strtol(argv[++i], &end, 10);
            if (end == argv[i] || *end != '\0' || iters <= 0) {
                usage(stderr);
                return 2;
            }
        } else {
            usage(stderr);
            return 2;
        }
    }
    wallet w;
    for (int i = 0; i < 2; i++) {
        lx_err err = lx_key_generate(&w.keys[i]);
        if (err == LX_OK)
            err = lx_key_address(w.keys[i], w.addrs[i]);
        if (err != LX_OK)
            die("key", err);
    }
    double raw[RUNS], tx[RUNS];
    raw_rate(w.keys[0], iters / 10 + 1); /* warm up */
    for (int r = 0; r < RUNS; r++) {
        raw[r] = raw_rate(w.keys[0], iters);
        tx[r] = tx_rate(&w, iters);
    }
    qsort(raw, RUNS, sizeof raw[0], cmp_double);
    qsort(tx, RUNS, sizeof tx[0], cmp_double);
    double raw_med = raw[RUNS / 2], tx_med = tx[RUNS / 2];
    printf("raw secp256k1 sign:            %10.0f sig/s\n", raw_med);
    printf("BaseTx 2-in/2-out build+sign:  %10.0f tx/s  (%0.0f sig/s)\n", tx_med, 2 * tx_med);
    printf("ratio (tx sig/s / raw sig/s):  %9.1f%%\n", 100.0 * 2 * tx_med / raw_med);
    printf("(median of %d runs, %ld iterations each)\n", RUNS, iters);
    for (int i = 0; i < 2; i++)
        lx_key_free(&w.keys[i]);
    return 0;
}
