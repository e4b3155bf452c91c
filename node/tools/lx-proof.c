/* lx-proof: the proof that one fill was settled (the fill, its batch, its
 * Merkle path to the batch's fills root, the settlement txID) from a node's
 * data dir, and the check of such a proof against the memo of the tx on the
 * X-Chain. docs/settlement.md, "lx-proof". */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lx/bridge.h"

#define EXIT_FAILED 1 /* the proof does not hold, or the fill is not stored */
#define EXIT_USAGE 2
#define EXIT_ERROR 3 /* the node or the data dir could not be read */
#define PROOF_FILE_MAX ((size_t)64 << 20)
#define PROOF_VERSION 1

static const char usage[] =
    "usage: lx-proof --data-dir DIR --fill SEQ [--json]\n"
    "       lx-proof --verify FILE --rpc URL [--channel ADDRS [--threshold T]] [--json]\n"
    "\n"
    "The first form prints the proof that fill SEQ (its global fill index) was\n"
    "settled: the fill, its batch, the Merkle path from the fill's leaf to the\n"
    "batch's fills root, and the settlement txID, from the batches a node stored\n"
    "in DIR. With --json the proof is one JSON object: the file --verify reads.\n"
    "\n"
    "The second form checks such a proof (FILE, or - for standard input): the\n"
    "fill is the leaf, the path leads from the leaf to the fills root of the\n"
    "batch, and the settlement tx, fetched from the node, is Accepted and its\n"
    "memo names exactly this batch's number and hash. With --channel it also\n"
    "checks that the batch is the channel's and that at least the threshold of\n"
    "its owners signed the tx.\n"
    "\n"
    "options:\n"
    "  --data-dir DIR     a node's data dir\n"
    "  --fill SEQ         the fill's global index (0 for the first fill)\n"
    "  --verify FILE      a proof as lx-proof --json prints it\n"
    "  --rpc URL          the node's API, e.g. http://127.0.0.1:9630\n"
    "  --channel ADDRS    the channel's owner addresses, comma-separated\n"
    "  --threshold T      signatures the channel needs (default ceil(2n/3))\n"
    "  --hrp HRP          address HRP (default: from the network ID, else local)\n"
    "  --json             JSON output\n"
    "  --help             this text\n"
    "\n"
    "exit status: 0 ok, 1 the proof fails (or the fill is not stored), 2 bad\n"
    "usage, 3 the data dir or the node could not be read\n";

typedef struct opts {
    const char *data_dir, *fill, *verify, *rpc, *channel, *threshold, *hrp;
    bool json, help;
} opts;

static bool json_out;

static int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(int code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (json_out) {
        json_t *j =
            json_pack("{s:s,s:s}", "verdict", code == EXIT_FAILED ? "fail" : "error", "error", msg);
        if (j != NULL)
            json_dumpf(j, stdout, JSON_COMPACT);
        fputc('\n', stdout);
        json_decref(j);
    }
    fprintf(stderr, "lx-proof: %s\n", msg);
    if (code == EXIT_USAGE)
        fprintf(stderr, "lx-proof: see lx-proof --help\n");
    return code;
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

static json_t *u64_json(uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
    return json_string(buf);
}

/* Hex of n bytes as a JSON string (NULL when out of memory). */
static json_t *hex_json(const uint8_t *b, size_t n)
{
    size_t cap = lx_hex_len(n);
    char *s = malloc(cap);
    json_t *j = NULL;
    if (s != NULL && lx_hex_encode(s, cap, b, n) == LX_OK)
        j = json_string(s);
    free(s);
    return j;
}

/* ---- the proof from the data dir ---- */

typedef struct proof {
    lx_batch_record rec;
    lx_batch_info info;
    lx_fill_leaf fill;
    uint8_t leaf[LX_FILL_LEAF_LEN];
    lx_merkle_proof path;
    uint8_t path_bytes[LX_MERKLE_PROOF_ENC_MAX];
    size_t path_len;
    uint8_t *batch_bytes;
    size_t batch_len;
} proof;

static int make_proof(proof *p, const char *dir, uint64_t seq)
{
    uint64_t number = 0;
    lx_err err = lx_batch_store_find_fill(&number, dir, seq);
    if (err == LX_ENOTFOUND)
        return fail(EXIT_FAILED, "fill %llu is in no batch stored in %s", (unsigned long long)seq,
                    dir);
    if (err == LX_OK)
        err = lx_batch_store_read(&p->rec, dir, number, LX_BATCH_READ_FILLS);
    if (err != LX_OK)
        return fail(EXIT_ERROR, "%s: batch %llu: %s", dir, (unsigned long long)number,
                    lx_strerror(err));
    lx_batch_info_get(p->rec.batch, &p->info);
    uint64_t i = seq - p->info.first_fill;
    p->fill = p->rec.fills[i];
    uint8_t *hashes = malloc(p->rec.nfills * LX_SHA256_LEN);
    lx_merkle_tree *t = NULL;
    err = hashes ? LX_OK : LX_ENOMEM;
    for (size_t k = 0; err == LX_OK && k < p->rec.nfills; k++)
        err = lx_fill_leaf_hash(hashes + k * LX_SHA256_LEN, &p->rec.fills[k]);
    if (err == LX_OK)
        err = lx_merkle_tree_new(&t, hashes, p->rec.nfills);
    if (err == LX_OK)
        err = lx_merkle_tree_proof(t, &p->path, i);
    if (err == LX_OK)
        err = lx_merkle_proof_encode(&p->path, p->path_bytes, sizeof p->path_bytes, &p->path_len);
    if (err == LX_OK)
        err = lx_fill_leaf_encode(p->leaf, &p->fill);
    /* The proof must hold before it is handed out. */
    if (err == LX_OK)
        err = lx_batch_verify_fill(p->rec.batch, &p->fill, &p->path);
    p->batch_len = lx_batch_encoded_len(p->rec.batch);
    if (err == LX_OK && (p->batch_bytes = malloc(p->batch_len)) == NULL)
        err = LX_ENOMEM;
    if (err == LX_OK)
        err = lx_batch_encode(p->rec.batch, p->batch_bytes, p->batch_len, &p->batch_len);
    lx_merkle_tree_free(&t);
    free(hashes);
    if (err != LX_OK)
        return fail(EXIT_ERROR, "batch %llu: %s", (unsigned long long)number, lx_strerror(err));
    return 0;
}

static json_t *fill_json(const lx_fill_leaf *f)
{
    return json_pack("{s:o,s:o,s:I,s:o,s:o,s:o,s:o,s:o,s:o,s:s,s:o,s:o}", "fillSeq",
                     u64_json(f->fill_seq), "logSeq", u64_json(f->log_seq), "market",
                     (json_int_t)f->market, "makerOrder", u64_json(f->maker_order), "makerAccount",
                     u64_json(f->maker_account), "takerOrder", u64_json(f->taker_order),
                     "takerAccount", u64_json(f->taker_account), "price", u64_json(f->price), "qty",
                     u64_json(f->qty), "takerSide", f->taker_side == LX_SELL ? "sell" : "buy",
                     "makerFee", u64_json(f->maker_fee), "takerFee", u64_json(f->taker_fee));
}

static json_t *proof_json(const proof *p)
{
    json_t *path = json_array();
    for (uint32_t k = 0; k < p->path.depth; k++)
        json_array_append_new(path, json_pack("{s:s,s:o}", "side",
                                              (p->path.bits >> k) & 1 ? "left" : "right", "hash",
                                              hex_json(p->path.sibling[k], LX_SHA256_LEN)));
    char id[LX_CB58_ID_MAX];
    lx_id_to_cb58(id, p->rec.tx_id);
    return json_pack(
        "{s:i,s:o,s:o,s:{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o},s:{s:o,s:o,s:i,s:o,s:o},s:o}",
        "version", PROOF_VERSION, "fill", fill_json(&p->fill), "leaf",
        hex_json(p->leaf, LX_FILL_LEAF_LEN), "batch", "number", u64_json(p->info.number), "hash",
        hex_json(p->rec.hash, LX_SHA256_LEN), "channelID",
        hex_json(p->info.channel_id, LX_CHANNEL_ID_LEN), "firstSeq", u64_json(p->info.first_seq),
        "lastSeq", u64_json(p->info.last_seq), "firstFill", u64_json(p->info.first_fill),
        "fillCount", u64_json(p->info.fill_count), "fillsRoot",
        hex_json(p->info.fills_root, LX_SHA256_LEN), "bytes",
        hex_json(p->batch_bytes, p->batch_len), "proof", "index", u64_json(p->path.index), "count",
        u64_json(p->path.count), "depth", (int)p->path.depth, "path", path, "bytes",
        hex_json(p->path_bytes, p->path_len), "txID",
        p->rec.has_tx_id ? json_string(id) : json_null());
}

static void hex_print(const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%02x", b[i]);
}

static void print_proof(const proof *p)
{
    const lx_fill_leaf *f = &p->fill;
    printf("fill %llu (log seq %llu): market %u, taker order %llu (account %llu) %s %llu lots "
           "at %llu from maker order %llu (account %llu); fees maker %llu, taker %llu\n",
           (unsigned long long)f->fill_seq, (unsigned long long)f->log_seq, f->market,
           (unsigned long long)f->taker_order, (unsigned long long)f->taker_account,
           f->taker_side == LX_SELL ? "sells" : "buys", (unsigned long long)f->qty,
           (unsigned long long)f->price, (unsigned long long)f->maker_order,
           (unsigned long long)f->maker_account, (unsigned long long)f->maker_fee,
           (unsigned long long)f->taker_fee);
    printf("leaf ");
    hex_print(p->leaf, LX_FILL_LEAF_LEN);
    printf("\nbatch %llu hash ", (unsigned long long)p->info.number);
    hex_print(p->rec.hash, LX_SHA256_LEN);
    printf("\n  log seqs %llu..%llu, fills %llu..%llu (%llu), fills root ",
           (unsigned long long)p->info.first_seq, (unsigned long long)p->info.last_seq,
           (unsigned long long)p->info.first_fill,
           (unsigned long long)(p->info.first_fill + p->info.fill_count - 1),
           (unsigned long long)p->info.fill_count);
    hex_print(p->info.fills_root, LX_SHA256_LEN);
    printf("\nmerkle path: leaf %llu of %llu, %u siblings from the leaf up\n",
           (unsigned long long)p->path.index, (unsigned long long)p->path.count, p->path.depth);
    for (uint32_t k = 0; k < p->path.depth; k++) {
        printf("  %2u %-5s ", k, (p->path.bits >> k) & 1 ? "left" : "right");
        hex_print(p->path.sibling[k], LX_SHA256_LEN);
        printf("\n");
    }
    if (p->rec.has_tx_id) {
        char id[LX_CB58_ID_MAX];
        lx_id_to_cb58(id, p->rec.tx_id);
        printf("settlement tx %s\n", id);
    } else {
        printf("settlement tx: not recorded yet\n");
    }
}

static int cmd_proof(const opts *o)
{
    uint64_t seq = 0;
    if (parse_u64(&seq, o->fill) != 0)
        return fail(EXIT_USAGE, "--fill '%s' is not a fill index", o->fill);
    proof p;
    memset(&p, 0, sizeof p);
    int rc = make_proof(&p, o->data_dir, seq);
    if (rc == 0 && o->json) {
        json_t *j = proof_json(&p);
        if (j == NULL || json_dumpf(j, stdout, JSON_COMPACT) != 0)
            rc = fail(EXIT_ERROR, "out of memory");
        else
            fputc('\n', stdout);
        json_decref(j);
    } else if (rc == 0) {
        print_proof(&p);
    }
    free(p.batch_bytes);
    lx_batch_record_free(&p.rec);
    return rc;
}

/* ---- verifying ---- */

static lx_err read_all(char **out, const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (f == NULL)
        return errno == ENOENT ? LX_ENOTFOUND : LX_EIO;
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    lx_err err = b ? LX_OK : LX_ENOMEM;
    while (err == LX_OK) {
        if (n + 1 == cap) {
            char *nb = cap < PROOF_FILE_MAX ? realloc(b, cap * 2) : NULL;
            if (nb == NULL) {
                err = cap < PROOF_FILE_MAX ? LX_ENOMEM : LX_ETOOBIG;
                break;
            }
            b = nb;
            cap *= 2;
        }
        size_t r = fread(b + n, 1, cap - 1 - n, f);
        n += r;
        if (r == 0) {
            if (ferror(f))
                err = LX_EIO;
            break;
        }
    }
    if (f != stdin)
        fclose(f);
    if (err != LX_OK) {
        free(b);
        return err;
    }
    b[n] = '\0';
    *out = b;
    return LX_OK;
}

/* A member that is a hex string of exactly n bytes, into out. */
static bool get_hex(uint8_t *out, size_t n, const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    size_t len = 0;
    return s != NULL && strlen(s) == 2 * n && lx_hex_decode(out, n, &len, s) == LX_OK && len == n;
}

/* A member that is a hex string of any length up to cap, malloc'd. */
static bool get_hex_alloc(uint8_t **out, size_t *len, const json_t *o, const char *key, size_t cap)
{
    const char *s = json_string_value(json_object_get(o, key));
    size_t n = s ? strlen(s) : 0;
    *out = NULL;
    if (s == NULL || n % 2 != 0 || n / 2 > cap)
        return false;
    *out = malloc(n / 2 + 1);
    if (*out == NULL || lx_hex_decode(*out, n / 2 + 1, len, s) != LX_OK) {
        free(*out);
        *out = NULL;
        return false;
    }
    return true;
}

static bool get_u64(uint64_t *out, const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
        return true;
    }
    return parse_u64(out, json_string_value(v)) == 0;
}

/* The readable fill must say what the leaf bytes say. */
static bool fill_matches(const json_t *j, const lx_fill_leaf *f)
{
    uint64_t v[11];
    static const char *const keys[] = {"fillSeq",      "logSeq",     "market",       "makerOrder",
                                       "makerAccount", "takerOrder", "takerAccount", "price",
                                       "qty",          "makerFee",   "takerFee"};
    for (size_t k = 0; k < 11; k++)
        if (!get_u64(&v[k], j, keys[k]))
            return false;
    const char *side = json_string_value(json_object_get(j, "takerSide"));
    return v[0] == f->fill_seq && v[1] == f->log_seq && v[2] == f->market &&
           v[3] == f->maker_order && v[4] == f->maker_account && v[5] == f->taker_order &&
           v[6] == f->taker_account && v[7] == f->price && v[8] == f->qty && v[9] == f->maker_fee &&
           v[10] == f->taker_fee && side != NULL &&
           strcmp(side, f->taker_side == LX_SELL ? "sell" : "buy") == 0;
}

/* The readable path must say what the proof bytes say. */
static bool path_matches(const json_t *j, const lx_merkle_proof *m)
{
    uint64_t index = 0, count = 0;
    const json_t *path = json_object_get(j, "path");
    if (!get_u64(&index, j, "index") || !get_u64(&count, j, "count") || index != m->index ||
        count != m->count || !json_is_array(path) || json_array_size(path) != m->depth)
        return false;
    for (uint32_t k = 0; k < m->depth; k++) {
        const json_t *e = json_array_get(path, k);
        const char *side = json_string_value(json_object_get(e, "side"));
        uint8_t h[LX_SHA256_LEN];
        if (side == NULL || strcmp(side, (m->bits >> k) & 1 ? "left" : "right") != 0 ||
            !get_hex(h, LX_SHA256_LEN, e, "hash") || memcmp(h, m->sibling[k], LX_SHA256_LEN) != 0)
            return false;
    }
    return true;
}

typedef struct verify {
    json_t *j;
    lx_fill_leaf fill;
    lx_batch *batch;
    lx_batch_info info;
    uint8_t hash[LX_SHA256_LEN];
    lx_merkle_proof path;
    uint8_t tx_id[LX_ID_LEN];
    lx_rpc *rpc;
    lx_tx *tx;
} verify;

/* Everything that needs no node: leaf, batch, path. */
static int check_offline(verify *v)
{
    const json_t *j = v->j;
    const json_t *jb = json_object_get(j, "batch"), *jp = json_object_get(j, "proof");
    uint8_t leaf[LX_FILL_LEAF_LEN], h[LX_SHA256_LEN], *bytes = NULL;
    size_t len = 0;
    uint64_t number = 0, version = 0;
    if (!get_u64(&version, j, "version") || version != PROOF_VERSION)
        return fail(EXIT_FAILED, "not a version %d proof", PROOF_VERSION);
    if (!get_hex(leaf, LX_FILL_LEAF_LEN, j, "leaf") ||
        lx_fill_leaf_decode(&v->fill, leaf, sizeof leaf) != LX_OK)
        return fail(EXIT_FAILED, "\"leaf\" is not %d bytes of a fill leaf", LX_FILL_LEAF_LEN);
    if (!fill_matches(json_object_get(j, "fill"), &v->fill))
        return fail(EXIT_FAILED, "\"fill\" does not say what the leaf bytes say");
    if (!get_hex_alloc(&bytes, &len, jb, "bytes", LX_BATCH_ENC_MAX))
        return fail(EXIT_FAILED, "\"batch.bytes\" is not hex of a batch");
    lx_err err = lx_batch_decode(&v->batch, bytes, len);
    if (err == LX_OK)
        err = lx_sha256(v->hash, bytes, len);
    free(bytes);
    if (err != LX_OK)
        return fail(EXIT_FAILED, "\"batch.bytes\" is not a batch: %s", lx_strerror(err));
    lx_batch_info_get(v->batch, &v->info);
    if (!get_hex(h, LX_SHA256_LEN, jb, "hash") || memcmp(h, v->hash, LX_SHA256_LEN) != 0 ||
        !get_u64(&number, jb, "number") || number != v->info.number)
        return fail(EXIT_FAILED, "\"batch.hash\" or \"batch.number\" is not the batch's");
    if (!get_hex_alloc(&bytes, &len, jp, "bytes", LX_MERKLE_PROOF_ENC_MAX))
        return fail(EXIT_FAILED, "\"proof.bytes\" is not hex of a Merkle proof");
    err = lx_merkle_proof_decode(&v->path, bytes, len);
    free(bytes);
    if (err != LX_OK)
        return fail(EXIT_FAILED, "\"proof.bytes\" is not a Merkle proof: %s", lx_strerror(err));
    if (!path_matches(jp, &v->path))
        return fail(EXIT_FAILED, "\"proof\" index, count or path is not what its bytes say");
    err = lx_batch_verify_fill(v->batch, &v->fill, &v->path);
    if (err != LX_OK)
        return fail(EXIT_FAILED,
                    "the path does not lead from fill %llu to batch %llu's fills "
                    "root: %s",
                    (unsigned long long)v->fill.fill_seq, (unsigned long long)v->info.number,
                    lx_strerror(err));
    const char *id = json_string_value(json_object_get(j, "txID"));
    if (id == NULL)
        return fail(EXIT_FAILED,
                    "the proof names no settlement tx (\"txID\" is null): batch "
                    "%llu is not settled yet",
                    (unsigned long long)v->info.number);
    if (lx_id_from_cb58(v->tx_id, id) != LX_OK)
        return fail(EXIT_FAILED, "\"txID\" '%s' is not a cb58 ID", id);
    return 0;
}

static int addr_cmp(const void *a, const void *b)
{
    return memcmp(a, b, LX_ADDR_LEN);
}

/* --channel: the batch is the channel's and its owners signed the tx. */
static int check_channel(verify *v, const opts *o)
{
    uint32_t network = 0;
    uint8_t chain[LX_ID_LEN], owners[LX_OWNERS_MAX * LX_ADDR_LEN];
    lx_err err = lx_rpc_get_network_id(v->rpc, &network);
    if (err == LX_OK)
        err = lx_rpc_get_blockchain_id(v->rpc, chain, "X");
    if (err != LX_OK)
        return fail(EXIT_ERROR, "%s: %s (%s)", o->rpc, lx_strerror(err),
                    lx_rpc_last_error(v->rpc, NULL, NULL));
    const char *hrp = o->hrp ? o->hrp : lx_wallet_network_hrp(network);
    char why[512];
    size_t n = 0;
    if (lx_wallet_owners_parse(owners, LX_OWNERS_MAX, &n, why, sizeof why, o->channel, "X",
                               hrp ? hrp : "local") != LX_OK)
        return fail(EXIT_USAGE, "--channel: %s", why);
    qsort(owners, n, LX_ADDR_LEN, addr_cmp);
    uint64_t t = lx_quorum_threshold(n);
    if (o->threshold != NULL && (parse_u64(&t, o->threshold) != 0 || t == 0 || t > n))
        return fail(EXIT_USAGE, "--threshold must be 1..%zu", n);
    lx_channel ch = {n, owners, (uint32_t)t};
    uint8_t id[LX_CHANNEL_ID_LEN];
    if (lx_channel_id(id, &ch, network, chain) != LX_OK)
        return fail(EXIT_USAGE, "--channel: an owner is named twice");
    if (memcmp(id, v->info.channel_id, LX_CHANNEL_ID_LEN) != 0)
        return fail(EXIT_FAILED, "batch %llu belongs to another channel",
                    (unsigned long long)v->info.number);
    if ((err = lx_settle_tx_check_sigs(why, sizeof why, v->tx, &ch)) != LX_OK)
        return fail(EXIT_FAILED, "the settlement tx's signatures: %s", why);
    return 0;
}

static int cmd_verify(const opts *o)
{
    verify v;
    memset(&v, 0, sizeof v);
    char *text = NULL;
    lx_err err = read_all(&text, o->verify);
    if (err != LX_OK)
        return fail(err == LX_ENOTFOUND || err == LX_ETOOBIG ? EXIT_USAGE : EXIT_ERROR, "%s: %s",
                    o->verify, err == LX_ETOOBIG ? "over 64 MiB" : lx_strerror(err));
    json_error_t jerr;
    v.j = json_loads(text, 0, &jerr);
    free(text);
    int rc = 0;
    if (!json_is_object(v.j))
        rc = fail(EXIT_FAILED, "%s is not a proof: %s", o->verify,
                  v.j ? "not a JSON object" : jerr.text);
    if (rc == 0)
        rc = check_offline(&v);
    lx_rpc_options ro;
    lx_rpc_options_init(&ro);
    if (rc == 0 && lx_rpc_new(&v.rpc, o->rpc, &ro) != LX_OK)
        rc = fail(EXIT_USAGE, "bad --rpc URL '%s'", o->rpc);
    lx_tx_status st = LX_TX_UNKNOWN;
    char id[LX_CB58_ID_MAX];
    lx_id_to_cb58(id, v.tx_id);
    if (rc == 0 && (err = lx_rpc_get_tx_status(v.rpc, &st, v.tx_id)) != LX_OK)
        rc = fail(EXIT_ERROR, "getTxStatus %s: %s (%s)", id, lx_strerror(err),
                  lx_rpc_last_error(v.rpc, NULL, NULL));
    if (rc == 0 && st != LX_TX_ACCEPTED)
        rc = fail(EXIT_FAILED, "settlement tx %s is %s, not Accepted", id, lx_tx_status_str(st));
    lx_rpc_blob b = {NULL, 0};
    if (rc == 0 && (err = lx_rpc_get_tx(v.rpc, &b, v.tx_id)) != LX_OK)
        rc = fail(EXIT_ERROR, "getTx %s: %s (%s)", id, lx_strerror(err),
                  lx_rpc_last_error(v.rpc, NULL, NULL));
    const char *why = NULL;
    if (rc == 0 && lx_tx_decode(&v.tx, &why, b.bytes, b.len) != LX_OK)
        rc = fail(EXIT_FAILED, "tx %s does not decode: %s", id, why ? why : "?");
    uint64_t number = 0;
    uint8_t hash[LX_SHA256_LEN];
    if (rc == 0) {
        const lx_tx_spec *s = lx_tx_view(v.tx);
        if (lx_settle_memo_parse(&number, hash, s->memo, s->memo_len) != LX_OK)
            rc = fail(EXIT_FAILED, "tx %s carries no settlement memo", id);
        else if (number != v.info.number || memcmp(hash, v.hash, LX_SHA256_LEN) != 0)
            rc =
                fail(EXIT_FAILED, "tx %s settles batch %llu with another hash, not this batch %llu",
                     id, (unsigned long long)number, (unsigned long long)v.info.number);
    }
    if (rc == 0 && o->channel != NULL)
        rc = check_channel(&v, o);
    if (rc == 0) {
        char h[2 * LX_SHA256_LEN + 1];
        lx_hex_encode(h, sizeof h, v.hash, LX_SHA256_LEN);
        if (o->json) {
            json_t *r = json_pack("{s:s,s:o,s:o,s:s,s:s,s:s,s:b}", "verdict", "ok", "fill",
                                  u64_json(v.fill.fill_seq), "batch", u64_json(v.info.number),
                                  "batchHash", h, "txID", id, "status", "Accepted",
                                  "channelChecked", o->channel != NULL);
            json_dumpf(r, stdout, JSON_COMPACT);
            fputc('\n', stdout);
            json_decref(r);
        } else {
            printf("ok: fill %llu is leaf %llu of %llu in batch %llu (hash %s), settled by tx %s "
                   "(Accepted), whose memo names that batch%s\n",
                   (unsigned long long)v.fill.fill_seq, (unsigned long long)v.path.index,
                   (unsigned long long)v.path.count, (unsigned long long)v.info.number, h, id,
                   o->channel ? "; the channel's owners signed it" : "");
        }
    }
    lx_rpc_blob_free(&b);
    lx_tx_free(&v.tx);
    lx_rpc_free(&v.rpc);
    lx_batch_free(&v.batch);
    json_decref(v.j);
    return rc;
}

int main(int argc, char **argv)
{
    opts o;
    memset(&o, 0, sizeof o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **dst = NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            o.help = true;
        else if (strcmp(a, "--json") == 0)
            o.json = json_out = true;
        else if (strcmp(a, "--data-dir") == 0)
            dst = &o.data_dir;
        else if (strcmp(a, "--fill") == 0)
            dst = &o.fill;
        else if (strcmp(a, "--verify") == 0)
            dst = &o.verify;
        else if (strcmp(a, "--rpc") == 0)
            dst = &o.rpc;
        else if (strcmp(a, "--channel") == 0)
            dst = &o.channel;
        else if (strcmp(a, "--threshold") == 0)
            dst = &o.threshold;
        else if (strcmp(a, "--hrp") == 0)
            dst = &o.hrp;
        else
            return fail(EXIT_USAGE, "unknown option '%s'", a);
        if (dst != NULL) {
            if (i + 1 >= argc)
                return fail(EXIT_USAGE, "%s needs a value", a);
            *dst = argv[++i];
        }
    }
    if (o.help) {
        fputs(usage, stdout);
        return 0;
    }
    if (o.verify != NULL) {
        if (o.data_dir != NULL || o.fill != NULL)
            return fail(EXIT_USAGE, "--verify does not take --data-dir or --fill");
        if (o.rpc == NULL)
            return fail(EXIT_USAGE, "--verify needs --rpc URL");
        if (o.threshold != NULL && o.channel == NULL)
            return fail(EXIT_USAGE, "--threshold needs --channel");
        return cmd_verify(&o);
    }
    if (o.data_dir == NULL || o.fill == NULL)
        return fail(EXIT_USAGE, "give --data-dir DIR --fill SEQ, or --verify FILE --rpc URL");
    if (o.rpc != NULL || o.channel != NULL || o.threshold != NULL)
        return fail(EXIT_USAGE, "--rpc, --channel and --threshold go with --verify");
    return cmd_proof(&o);
}
