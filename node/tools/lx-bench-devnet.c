/* lx-bench-devnet: sustained issueTx throughput of lx-devnet over HTTP on
 * loopback. It pre-builds N signed, independent txs (one genesis UTXO each),
 * then issues them from a few client threads over keep-alive connections and
 * prints tx/s, which covers HTTP, JSON, decoding and full verification. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lx/bridge.h"

#define FEE 1000000u
#define MAX_THREADS 16

static const char *const test_key =
    "56289e99c94b6912bfc12adc093c9b51124f0dc54ac7a766b2bc5ccf558d8027";

typedef struct signed_tx {
    uint8_t *bytes;
    size_t len;
} signed_tx;

typedef struct worker {
    const char *url;
    signed_tx *txs;
    size_t n;
    size_t ok, failed;
    char first_error[256];
    pthread_t thread;
} worker;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, lx_err err)
{
    fprintf(stderr, "lx-bench-devnet: %s: %s\n", what, lx_strerror(err));
    exit(1);
}

static uint64_t num(const char *s, uint64_t lo, uint64_t hi)
{
    char *end = NULL;
    unsigned long long v = strtoull(s ? s : "", &end, 10);
    if (!s || !*s || *end || v < lo || v > hi) {
        fprintf(stderr, "lx-bench-devnet: bad number %s (want %llu..%llu)\n", s ? s : "(none)",
                (unsigned long long)lo, (unsigned long long)hi);
        exit(2);
    }
    return v;
}

static void *issue_all(void *arg)
{
    worker *w = arg;
    lx_rpc_options o;
    lx_rpc_options_init(&o);
    o.max_retries = 0;
    o.prefix = LX_RPC_PREFIX_XVM;
    lx_rpc *c = NULL;
    lx_err err = lx_rpc_new(&c, w->url, &o);
    if (err) {
        snprintf(w->first_error, sizeof w->first_error, "%s", lx_strerror(err));
        w->failed = w->n;
        return NULL;
    }
    for (size_t i = 0; i < w->n; i++) {
        err = lx_rpc_issue_tx(c, NULL, w->txs[i].bytes, w->txs[i].len);
        if (err && err != LX_EEXIST) {
            if (!w->failed++)
                snprintf(w->first_error, sizeof w->first_error, "%s: %s", lx_strerror(err),
                         lx_rpc_last_error(c, NULL, NULL));
        } else {
            w->ok++;
        }
    }
    lx_rpc_free(&c);
    return NULL;
}

static int write_genesis(const char *path, uint64_t utxos)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return 1;
    }
    fprintf(f,
            "{\"networkID\":12345,\"hrp\":\"local\",\n"
            " \"assets\":[{\"symbol\":\"LUX\",\"name\":\"Lux\",\"denomination\":9},\n"
            "            {\"symbol\":\"USD\",\"name\":\"US Dollar\",\"denomination\":6}],\n"
            " \"allocations\":[{\"address\":\"X-local18jma8ppw3nhx5r4ap8clazz0dps7rv5u00z96u\",\n"
            "                  \"asset\":\"LUX\",\"amount\":\"10000000\",\"utxos\":%llu}],\n"
            " \"validators\":[{\"nodeID\":\"NodeID-7Xhw2mDxuDS44j42TCB6U5579esbSt3Lg\","
            "\"weight\":\"2000\"}]}\n",
            (unsigned long long)utxos);
    return fclose(f) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    const char *url = "http://127.0.0.1:9630", *genesis = NULL;
    uint64_t ntx = 20000, nthreads = 2, utxos = 20000;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help")) {
            printf("usage: lx-bench-devnet [--url URL] [--txs N] [--threads T]\n"
                   "       lx-bench-devnet --write-genesis FILE [--utxos N]\n"
                   "Issues N pre-signed txs to lx-devnet from T keep-alive clients and\n"
                   "prints tx/s. Start lx-devnet with a genesis from --write-genesis so the\n"
                   "test key owns enough UTXOs (one per tx).\n");
            return 0;
        }
        if (!v) {
            fprintf(stderr, "lx-bench-devnet: %s needs a value\n", a);
            return 2;
        }
        if (!strcmp(a, "--url"))
            url = v;
        else if (!strcmp(a, "--txs"))
            ntx = num(v, 1, 2000000);
        else if (!strcmp(a, "--threads"))
            nthreads = num(v, 1, MAX_THREADS);
        else if (!strcmp(a, "--write-genesis"))
            genesis = v;
        else if (!strcmp(a, "--utxos"))
            utxos = num(v, 1, 2000000);
        else {
            fprintf(stderr, "lx-bench-devnet: unknown option %s\n", a);
            return 2;
        }
        i++;
    }
    if (genesis)
        return write_genesis(genesis, utxos);

    uint8_t sec[LX_SECKEY_LEN], me[LX_ADDR_LEN], chain[LX_ID_LEN], lux[LX_ID_LEN];
    size_t slen = 0;
    lx_key *key = NULL;
    lx_err err;
    if ((err = lx_hex_decode(sec, sizeof sec, &slen, test_key)) ||
        (err = lx_key_import(&key, sec)) || (err = lx_key_address(key, me)))
        die("key", err);
    lx_wipe(sec, sizeof sec);
    /* lx-devnet derives asset ids as sha256("lx-devnet/asset/" || symbol). */
    lx_sha256(lux, "lx-devnet/asset/LUX", 19);
    lx_rpc *c = NULL;
    uint32_t net = 0;
    char addr[LX_ADDR_STR_MAX];
    lx_rpc_utxos us = {0};
    if ((err = lx_rpc_new(&c, url, NULL)) || (err = lx_rpc_get_network_id(c, &net)) ||
        (err = lx_rpc_get_blockchain_id(c, chain, "X")) ||
        (err = lx_address_encode(addr, sizeof addr, "X", "local", me)))
        die("connect", err);
    const char *addrs[1] = {addr};
    double t0 = now_s();
    if ((err = lx_rpc_get_utxos(c, &us, addrs, 1, NULL)))
        die(lx_rpc_last_error(c, NULL, NULL), err);
    double t_utxos = now_s() - t0;

    signed_tx *txs = calloc(ntx, sizeof *txs);
    size_t n = 0;
    t0 = now_s();
    static const uint32_t sig0 = 0;
    for (size_t i = 0; i < us.n && n < ntx; i++) {
        lx_utxo *u = NULL;
        if (lx_utxo_decode(&u, NULL, us.v[i].bytes, us.v[i].len) != LX_OK)
            continue;
        const lx_xutxo *v = lx_utxo_view(u);
        if (memcmp(v->out.asset_id, lux, LX_ID_LEN) != 0 || v->out.amount <= FEE ||
            v->out.naddrs != 1 || v->out.locktime) {
            lx_utxo_free(&u);
            continue;
        }
        lx_xin in = {.output_index = v->output_index,
                     .amount = v->out.amount,
                     .nsigs = 1,
                     .sig_indices = &sig0};
        memcpy(in.tx_id, v->tx_id, LX_ID_LEN);
        memcpy(in.asset_id, lux, LX_ID_LEN);
        lx_xout out = {.amount = v->out.amount - FEE, .threshold = 1, .naddrs = 1, .addrs = me};
        memcpy(out.asset_id, lux, LX_ID_LEN);
        lx_tx_spec sp = {
            .kind = LX_TX_BASE, .network_id = net, .nouts = 1, .outs = &out, .nins = 1, .ins = &in};
        memcpy(sp.blockchain_id, chain, LX_ID_LEN);
        lx_tx *tx = NULL;
        const lx_key *keys[1] = {key};
        if ((err = lx_tx_build(&tx, &sp)) || (err = lx_tx_sign_keys(tx, keys, 1)))
            die("build", err);
        txs[n].len = lx_tx_signed_len(tx);
        txs[n].bytes = malloc(txs[n].len);
        if ((err = lx_tx_encode(tx, txs[n].bytes, txs[n].len, &txs[n].len)))
            die("encode", err);
        n++;
        lx_tx_free(&tx);
        lx_utxo_free(&u);
    }
    double t_build = now_s() - t0;
    if (n < ntx)
        fprintf(stderr,
                "lx-bench-devnet: only %zu spendable UTXOs (of %zu) for %llu txs; start "
                "lx-devnet with a genesis from --write-genesis --utxos %llu\n",
                n, us.n, (unsigned long long)ntx, (unsigned long long)ntx);
    if (n == 0)
        return 1;
    uint64_t h0 = 0, h1 = 0;
    lx_rpc_get_height(c, &h0);

    worker w[MAX_THREADS];
    memset(w, 0, sizeof w);
    size_t per = n / nthreads, at = 0;
    t0 = now_s();
    for (size_t i = 0; i < nthreads; i++) {
        w[i].url = url;
        w[i].txs = txs + at;
        w[i].n = i + 1 == nthreads ? n - at : per;
        at += w[i].n;
        if (pthread_create(&w[i].thread, NULL, issue_all, &w[i]) != 0)
            die("pthread_create", LX_ENOMEM);
    }
    size_t ok = 0, failed = 0;
    for (size_t i = 0; i < nthreads; i++) {
        pthread_join(w[i].thread, NULL);
        ok += w[i].ok;
        failed += w[i].failed;
        if (w[i].failed)
            fprintf(stderr, "lx-bench-devnet: thread %zu: %zu failed, first: %s\n", i, w[i].failed,
                    w[i].first_error);
    }
    double t_issue = now_s() - t0;
    /* Wait for the mempool to drain into blocks, for the end-to-end figure. */
    uint8_t last_id[LX_ID_LEN];
    lx_tx_status st = LX_TX_UNKNOWN;
    lx_sha256(last_id, txs[n - 1].bytes, txs[n - 1].len);
    while (now_s() - t0 < t_issue + 60) {
        if (lx_rpc_get_tx_status(c, &st, last_id) == LX_OK && st != LX_TX_PROCESSING)
            break;
        struct timespec ts = {0, 20000000L};
        nanosleep(&ts, NULL);
    }
    double t_accept = now_s() - t0;
    lx_rpc_get_height(c, &h1);

    printf("lx-bench-devnet: %s, %zu txs (1 input, 1 output, signed), %llu client threads\n", url,
           n, (unsigned long long)nthreads);
    printf("  getUTXOs of %zu UTXOs:     %.3f s\n", us.n, t_utxos);
    printf("  build+sign:               %.3f s (%.0f tx/s)\n", t_build, (double)n / t_build);
    printf("  issueTx accepted by API:  %zu ok, %zu failed\n", ok, failed);
    printf("  issueTx throughput:       %.0f tx/s (%.3f s)\n", (double)ok / t_issue, t_issue);
    printf("  last tx %s after %.3f s; %llu blocks\n", lx_tx_status_str(st), t_accept,
           (unsigned long long)(h1 - h0));
    for (size_t i = 0; i < n; i++)
        free(txs[i].bytes);
    free(txs);
    lx_rpc_utxos_free(&us);
    lx_rpc_free(&c);
    lx_key_free(&key);
    return failed ? 1 : 0;
}
