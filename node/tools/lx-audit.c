/* lx-audit: walks a channel's chain of settlement txs on the X-Chain and
 * checks every link (memo, numbering, signatures, withdrawals, value) and
 * the conservation of the channel's funds, optionally against the batches a
 * node stored. docs/settlement.md, "lx-audit". */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "lx/bridge.h"

#define EXIT_FOUND 1 /* a discrepancy */
#define EXIT_USAGE 2
#define EXIT_ERROR 3 /* the audit could not be completed */
#define EXTRA_MAX 64

static const char usage[] =
    "usage: lx-audit --rpc URL --channel ADDR[,ADDR...] [options]\n"
    "\n"
    "Walks the chain of settlement txs of a channel on the X-Chain, from the\n"
    "first, and checks each one: a settlement memo with the next batch number,\n"
    "spending the previous settlement's change, inputs from the channel only,\n"
    "exactly the threshold of signatures per input by distinct owners, outputs\n"
    "that are change or withdrawals, and value in = value out plus the fee. Then\n"
    "per asset: deposits - withdrawals - fees = what the channel holds now.\n"
    "\n"
    "options:\n"
    "  --rpc URL          the node's API, e.g. http://127.0.0.1:9630 (required)\n"
    "  --channel ADDRS    the channel's owner addresses, comma-separated (one for a\n"
    "                     single node) (required)\n"
    "  --threshold T      signatures the channel needs (default ceil(2n/3))\n"
    "  --first TXID       the channel's first settlement tx: start the walk there\n"
    "  --data-dir DIR     a node's data dir: compare every memo with the batch\n"
    "                     stored there, and the tx with that batch's withdrawals\n"
    "                     and fee\n"
    "  --hrp HRP          address HRP (default: from the network ID, else local)\n"
    "  --fee-asset A      the fee asset, symbol or cb58 ID (default LUX)\n"
    "  --json             one JSON object on standard output\n"
    "  --help             this text\n"
    "\n"
    "The node must answer getAddressTxs (luxd: \"index-transactions\": true in the\n"
    "X-Chain config; lx-devnet always does).\n"
    "\n"
    "exit status: 0 every check passed, 1 a discrepancy was found, 2 bad usage,\n"
    "3 the audit could not be completed (node, data dir)\n";

typedef struct opts {
    const char *rpc, *channel, *threshold, *first, *data_dir, *hrp, *fee_asset;
    bool json, help;
} opts;

typedef struct extra {
    char why[LX_AUDIT_WHY_MAX + 64];
} extra;

typedef struct ctx {
    opts o;
    lx_rpc *rpc;
    lx_asset_cache *assets;
    char hrp[24];
    lx_wallet_chain wc;
    uint8_t owners[LX_OWNERS_MAX * LX_ADDR_LEN];
    lx_channel ch;
    lx_audit *audit;
    extra extras[EXTRA_MAX]; /* data dir discrepancies found while reading */
    size_t nextras;
} ctx;

static int fail(const ctx *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(const ctx *c, int code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c != NULL && c->o.json) {
        json_t *j = json_pack("{s:s,s:s}", "verdict", "error", "error", msg);
        if (j != NULL)
            json_dumpf(j, stdout, JSON_COMPACT);
        fputc('\n', stdout);
        json_decref(j);
    }
    fprintf(stderr, "lx-audit: %s\n", msg);
    if (code == EXIT_USAGE)
        fprintf(stderr, "lx-audit: see lx-audit --help\n");
    return code;
}

static int parse_args(ctx *c, int argc, char **argv)
{
    static const struct {
        const char *name;
        size_t off;
    } strs[] = {
        {"--rpc", offsetof(opts, rpc)},
        {"--channel", offsetof(opts, channel)},
        {"--threshold", offsetof(opts, threshold)},
        {"--first", offsetof(opts, first)},
        {"--data-dir", offsetof(opts, data_dir)},
        {"--hrp", offsetof(opts, hrp)},
        {"--fee-asset", offsetof(opts, fee_asset)},
    };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            c->o.help = true;
            continue;
        }
        if (strcmp(a, "--json") == 0) {
            c->o.json = true;
            continue;
        }
        size_t k = 0;
        while (k < sizeof strs / sizeof strs[0] && strcmp(a, strs[k].name) != 0)
            k++;
        if (k == sizeof strs / sizeof strs[0])
            return fail(c, EXIT_USAGE, "unknown option '%s'", a);
        if (i + 1 >= argc)
            return fail(c, EXIT_USAGE, "%s needs a value", a);
        *(const char **)((char *)&c->o + strs[k].off) = argv[++i];
    }
    if (c->o.help)
        return 0;
    if (c->o.rpc == NULL)
        return fail(c, EXIT_USAGE, "--rpc URL is required");
    if (c->o.channel == NULL)
        return fail(c, EXIT_USAGE, "--channel ADDR[,ADDR...] is required");
    return 0;
}

static int parse_u64(uint64_t *out, const char *s)
{
    char *end = NULL;
    errno = 0;
    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

static int addr_cmp(const void *a, const void *b)
{
    return memcmp(a, b, LX_ADDR_LEN);
}

/* The node's network, chain, fee asset and HRP; the channel from
 * --channel and --threshold. */
static int setup(ctx *c)
{
    lx_rpc_options ro;
    lx_rpc_options_init(&ro);
    if (lx_rpc_new(&c->rpc, c->o.rpc, &ro) != LX_OK)
        return fail(c, EXIT_USAGE, "bad --rpc URL '%s'", c->o.rpc);
    const char *fee = c->o.fee_asset ? c->o.fee_asset : "LUX";
    lx_err err = lx_wallet_chain_query(c->rpc, &c->wc, "X", fee);
    if (err != LX_OK)
        return fail(c, EXIT_ERROR, "%s: %s (%s)", c->o.rpc, lx_strerror(err),
                    lx_rpc_last_error(c->rpc, NULL, NULL));
    if (lx_asset_cache_new(&c->assets, c->rpc) != LX_OK)
        return fail(c, EXIT_ERROR, "out of memory");
    const char *hrp = c->o.hrp ? c->o.hrp : lx_wallet_network_hrp(c->wc.network_id);
    if (hrp == NULL)
        hrp = "local";
    size_t n = strlen(hrp);
    if (n == 0 || n >= sizeof c->hrp || strspn(hrp, "abcdefghijklmnopqrstuvwxyz0123456789") != n)
        return fail(c, EXIT_USAGE, "bad --hrp '%s' (lower case letters and digits)", hrp);
    memcpy(c->hrp, hrp, n + 1);
    char why[512];
    size_t nowners = 0;
    err = lx_wallet_owners_parse(c->owners, LX_OWNERS_MAX, &nowners, why, sizeof why, c->o.channel,
                                 "X", c->hrp);
    if (err != LX_OK)
        return fail(c, EXIT_USAGE, "--channel: %s", why);
    qsort(c->owners, nowners, LX_ADDR_LEN, addr_cmp);
    for (size_t i = 1; i < nowners; i++)
        if (memcmp(c->owners + (i - 1) * LX_ADDR_LEN, c->owners + i * LX_ADDR_LEN, LX_ADDR_LEN) ==
            0)
            return fail(c, EXIT_USAGE, "--channel names an owner twice");
    uint64_t t = lx_quorum_threshold(nowners);
    if (c->o.threshold != NULL && (parse_u64(&t, c->o.threshold) != 0 || t == 0 || t > nowners))
        return fail(c, EXIT_USAGE, "--threshold must be 1..%zu", nowners);
    c->ch.nowners = nowners;
    c->ch.owners = c->owners;
    c->ch.threshold = (uint32_t)t;
    lx_audit_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.network_id = c->wc.network_id;
    memcpy(cfg.blockchain_id, c->wc.blockchain_id, LX_ID_LEN);
    memcpy(cfg.fee_asset, c->wc.fee_asset, LX_ID_LEN);
    cfg.channel = &c->ch;
    cfg.require_batches = c->o.data_dir != NULL;
    if (c->o.first != NULL) {
        if (lx_id_from_cb58(cfg.first_tx, c->o.first) != LX_OK)
            return fail(c, EXIT_USAGE, "--first: '%s' is not a cb58 txID", c->o.first);
        cfg.has_first = true;
    }
    if ((err = lx_audit_new(&c->audit, &cfg)) != LX_OK)
        return fail(c, EXIT_USAGE, "bad channel: %s", lx_strerror(err));
    return 0;
}

static void add_extra(ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add_extra(ctx *c, const char *fmt, ...)
{
    if (c->nextras == EXTRA_MAX)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->extras[c->nextras].why, sizeof c->extras[0].why, fmt, ap);
    va_end(ap);
    c->nextras++;
}

/* Every stored batch into the audit; a file that does not read back is a
 * discrepancy of the data dir, an I/O failure stops the audit. */
static int load_batches(ctx *c, size_t *loaded)
{
    *loaded = 0;
    struct stat st;
    if (stat(c->o.data_dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return fail(c, EXIT_USAGE, "--data-dir %s is not a directory", c->o.data_dir);
    uint64_t *nums = NULL;
    size_t n = 0;
    lx_err err = lx_batch_store_list(&nums, &n, c->o.data_dir);
    if (err != LX_OK)
        return fail(c, EXIT_ERROR, "--data-dir %s: %s", c->o.data_dir, lx_strerror(err));
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        lx_batch_record r;
        err = lx_batch_store_read(&r, c->o.data_dir, nums[i], LX_BATCH_READ_FILLS);
        if (err == LX_EIO || err == LX_ENOMEM) {
            rc = fail(c, EXIT_ERROR, "--data-dir: batch %llu: %s", (unsigned long long)nums[i],
                      lx_strerror(err));
        } else if (err != LX_OK) {
            add_extra(c, "stored batch %llu does not read back: %s", (unsigned long long)nums[i],
                      lx_strerror(err));
        } else {
            err = lx_audit_add_batch(c->audit, r.batch, r.has_tx_id ? r.tx_id : NULL);
            if (err != LX_OK)
                rc = fail(c, EXIT_ERROR, "batch %llu: %s", (unsigned long long)nums[i],
                          lx_strerror(err));
            else
                (*loaded)++;
        }
        lx_batch_record_free(&r);
    }
    free(nums);
    return rc;
}

static void hex32(char out[2 * LX_SHA256_LEN + 1], const uint8_t *b)
{
    lx_hex_encode(out, 2 * LX_SHA256_LEN + 1, b, LX_SHA256_LEN);
}

static const char *symbol_of(ctx *c, const uint8_t asset[LX_ID_LEN], char buf[LX_CB58_ID_MAX])
{
    const char *s = lx_asset_cache_symbol(c->assets, asset);
    if (s != NULL && *s)
        return s;
    lx_id_to_cb58(buf, asset);
    return buf;
}

static const char *batch_state(lx_audit_batch_state s)
{
    return s == LX_AUDIT_BATCH_MATCH ? "match" : s == LX_AUDIT_BATCH_MISMATCH ? "mismatch" : "none";
}

static void print_text(ctx *c, const lx_audit_report *r, size_t nbatches, bool pass)
{
    char addr[LX_ADDR_STR_MAX], id[LX_CB58_ID_MAX], h[2 * LX_SHA256_LEN + 1], sym[LX_CB58_ID_MAX];
    printf("channel %u of %zu:", c->ch.threshold, c->ch.nowners);
    for (size_t i = 0; i < c->ch.nowners; i++) {
        lx_address_encode(addr, sizeof addr, "X", c->hrp, c->owners + i * LX_ADDR_LEN);
        printf(" %s", addr);
    }
    printf(" (network %u)\n", c->wc.network_id);
    printf("txs touching the channel: %zu", r->ntxs);
    if (c->o.data_dir != NULL)
        printf(", stored batches: %zu", nbatches);
    printf("\n");
    for (size_t i = 0; i < r->nsettlements; i++) {
        const lx_audit_settlement *s = &r->settlements[i];
        lx_id_to_cb58(id, s->tx_id);
        hex32(h, s->batch_hash);
        printf("batch %llu %s %s", (unsigned long long)s->number, id,
               s->err == LX_OK ? "ok" : "FAIL");
        if (s->err != LX_OK)
            printf(": %s", s->why);
        printf("\n  hash %s, %zu inputs, %zu withdrawals, fee %llu, stored batch %s\n", h,
               s->ninputs, s->nwithdrawals, (unsigned long long)s->fee, batch_state(s->batch));
    }
    if (r->nsettlements == 0)
        printf("no settlement txs\n");
    if (r->nunsettled > 0)
        printf("stored batches from %llu on are not settled yet: %zu\n",
               (unsigned long long)r->unsettled_from, r->nunsettled);
    for (size_t i = 0; i < r->nassets; i++) {
        const lx_audit_asset *a = &r->assets[i];
        printf("conservation %s: deposits %llu - withdrawals %llu - fees %llu, channel holds "
               "%llu: %s\n",
               symbol_of(c, a->asset_id, sym), (unsigned long long)a->deposits,
               (unsigned long long)a->withdrawals, (unsigned long long)a->fees,
               (unsigned long long)a->on_chain, a->ok ? "ok" : "FAIL");
    }
    for (size_t i = 0; i < r->nproblems; i++) {
        const lx_audit_problem *p = &r->problems[i];
        if (p->has_tx) {
            lx_id_to_cb58(id, p->tx_id);
            printf("discrepancy: tx %s: %s\n", id, p->why);
        } else {
            printf("discrepancy: %s\n", p->why);
        }
    }
    for (size_t i = 0; i < c->nextras; i++)
        printf("discrepancy: %s\n", c->extras[i].why);
    printf("verdict: %s (%zu settlements, %zu discrepancies)\n", pass ? "ok" : "FAIL",
           r->nsettlements, r->nproblems + c->nextras);
}

static json_t *u64_json(uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
    return json_string(buf);
}

static int print_json(ctx *c, const lx_audit_report *r, size_t nbatches, bool pass)
{
    char addr[LX_ADDR_STR_MAX], id[LX_CB58_ID_MAX], h[2 * LX_SHA256_LEN + 1], sym[LX_CB58_ID_MAX];
    json_t *j = json_object(), *owners = json_array(), *sets = json_array(), *cons = json_array(),
           *probs = json_array();
    for (size_t i = 0; i < c->ch.nowners; i++) {
        lx_address_encode(addr, sizeof addr, "X", c->hrp, c->owners + i * LX_ADDR_LEN);
        json_array_append_new(owners, json_string(addr));
    }
    uint8_t chid[LX_CHANNEL_ID_LEN];
    lx_channel_id(chid, &c->ch, c->wc.network_id, c->wc.blockchain_id);
    hex32(h, chid);
    json_object_set_new(j, "channel",
                        json_pack("{s:o,s:i,s:i,s:s}", "owners", owners, "threshold",
                                  (int)c->ch.threshold, "networkID", (json_int_t)c->wc.network_id,
                                  "channelID", h));
    json_object_set_new(j, "txs", json_integer((json_int_t)r->ntxs));
    for (size_t i = 0; i < r->nsettlements; i++) {
        const lx_audit_settlement *s = &r->settlements[i];
        lx_id_to_cb58(id, s->tx_id);
        hex32(h, s->batch_hash);
        json_array_append_new(sets, json_pack("{s:o,s:s,s:s,s:i,s:i,s:o,s:s,s:s,s:s}", "batch",
                                              u64_json(s->number), "txID", id, "batchHash", h,
                                              "inputs", (json_int_t)s->ninputs, "withdrawals",
                                              (json_int_t)s->nwithdrawals, "fee", u64_json(s->fee),
                                              "storedBatch", batch_state(s->batch), "verdict",
                                              s->err == LX_OK ? "ok" : "fail", "reason", s->why));
    }
    json_object_set_new(j, "settlements", sets);
    for (size_t i = 0; i < r->nassets; i++) {
        const lx_audit_asset *a = &r->assets[i];
        lx_id_to_cb58(id, a->asset_id);
        json_array_append_new(cons, json_pack("{s:s,s:s,s:o,s:o,s:o,s:o,s:b}", "asset", id,
                                              "symbol", symbol_of(c, a->asset_id, sym), "deposits",
                                              u64_json(a->deposits), "withdrawals",
                                              u64_json(a->withdrawals), "fees", u64_json(a->fees),
                                              "onChain", u64_json(a->on_chain), "ok", a->ok));
    }
    json_object_set_new(j, "conservation", r->conservation_checked ? cons : json_null());
    if (!r->conservation_checked)
        json_decref(cons);
    for (size_t i = 0; i < r->nproblems; i++) {
        const lx_audit_problem *p = &r->problems[i];
        lx_id_to_cb58(id, p->tx_id);
        json_array_append_new(probs, json_pack("{s:o,s:s}", "txID",
                                               p->has_tx ? json_string(id) : json_null(), "reason",
                                               p->why));
    }
    for (size_t i = 0; i < c->nextras; i++)
        json_array_append_new(probs, json_pack("{s:n,s:s}", "txID", "reason", c->extras[i].why));
    json_object_set_new(j, "problems", probs);
    if (c->o.data_dir != NULL) {
        json_object_set_new(j, "storedBatches", json_integer((json_int_t)nbatches));
        json_object_set_new(j, "unsettledBatches", json_integer((json_int_t)r->nunsettled));
    }
    json_object_set_new(j, "verdict", json_string(pass ? "ok" : "fail"));
    int rc = json_dumpf(j, stdout, JSON_COMPACT) == 0 ? 0 : -1;
    fputc('\n', stdout);
    json_decref(j);
    return rc;
}

static int run(ctx *c)
{
    int rc = setup(c);
    size_t nbatches = 0;
    if (rc == 0 && c->o.data_dir != NULL)
        rc = load_batches(c, &nbatches);
    if (rc != 0)
        return rc;
    char why[512];
    lx_err err = lx_audit_fetch(c->audit, why, sizeof why, c->rpc, c->hrp);
    if (err != LX_OK)
        return fail(c, EXIT_ERROR, "%s: %s", c->o.rpc, why);
    const lx_audit_report *r = NULL;
    if ((err = lx_audit_run(c->audit, &r)) != LX_OK)
        return fail(c, EXIT_ERROR, "audit: %s", lx_strerror(err));
    bool pass = r->nproblems == 0 && c->nextras == 0;
    if (c->o.json)
        print_json(c, r, nbatches, pass);
    else
        print_text(c, r, nbatches, pass);
    fflush(stdout);
    return pass ? 0 : EXIT_FOUND;
}

int main(int argc, char **argv)
{
    ctx c;
    memset(&c, 0, sizeof c);
    int rc = parse_args(&c, argc, argv);
    if (rc == 0 && c.o.help) {
        fputs(usage, stdout);
        return 0;
    }
    if (rc == 0)
        rc = run(&c);
    lx_audit_free(&c.audit);
    lx_asset_cache_free(&c.assets);
    lx_rpc_free(&c.rpc);
    return rc;
}
