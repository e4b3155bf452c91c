/* Test driver for tests/bridge/test_settle_devnet.sh: settles two consecutive
 * batches of a channel on a live X-Chain API (lx-devnet). Each batch has one
 * withdrawal; its settlement tx is built with lx_settle_tx_build, signed by
 * a quorum certificate of two owners (owners 0 and 1 for the first batch,
 * 1 and 2 for the second), issued with lx_submit_tx, and audited against the
 * batch after getTx. The second spends the first one's change. Then the
 * first tx is issued again, which must change nothing, and a rival
 * settlement of batch 1 (another signer set, so another tx) built over the
 * UTXOs of before, which the node must refuse.
 *
 *   settle_driver --rpc URL --key-file F --key-file F --key-file F
 *                 --to ADDR --amount N --amount M [--fills K] [--data-dir DIR]
 *
 * --fills K adds K fills to each batch (a market of the fee asset against a
 * made-up quote asset; fills move no funds on-chain); --data-dir DIR writes
 * each settled batch and its txID there as a node does
 * (lx_batch_store_write), for lx-audit and lx-proof
 * (tests/bridge/test_audit_devnet.sh).
 *
 * Prints "settled <batch> <txID> inputs <n> prev <spent prev change>" per
 * batch, "resubmit <status> sends <n> err <error>" and "rival <status>
 * same-tx <0|1> err <error>"; exits 0 when both batches settled, 1
 * otherwise. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lx/bridge.h"

#define NKEYS 3
#define MAX_CHANGE 8

typedef struct driver {
    lx_rpc *rpc;
    lx_wallet_chain wc;
    const char *hrp;
    lx_key *keys[NKEYS];
    const lx_key *by_owner[NKEYS]; /* keys in owner order */
    uint8_t owners[NKEYS * LX_ADDR_LEN];
    lx_channel ch;
    uint8_t dest[LX_ADDR_LEN];
    uint64_t fills;       /* --fills: per batch */
    const char *data_dir; /* --data-dir, or NULL */
} driver;

static int die(const char *what, lx_err err, const driver *d)
{
    fprintf(stderr, "settle_driver: %s: %s", what, lx_strerror(err));
    if (d != NULL && d->rpc != NULL && *lx_rpc_last_error(d->rpc, NULL, NULL))
        fprintf(stderr, " (%s)", lx_rpc_last_error(d->rpc, NULL, NULL));
    fputc('\n', stderr);
    return 1;
}

static int parse_u64(uint64_t *out, const char *s)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-')
        return -1;
    *out = v;
    return 0;
}

static int addr_cmp(const void *a, const void *b)
{
    return memcmp(a, b, LX_ADDR_LEN);
}

/* The channel's UTXOs as the node lists them, into a wallet that keeps
 * their memory. */
static lx_err fetch_channel(driver *d, lx_wallet **w, lx_channel_utxo **utxos, size_t *n)
{
    *utxos = NULL;
    *n = 0;
    lx_err err = lx_wallet_new(w, &d->wc);
    if (err != LX_OK)
        return err;
    char text[NKEYS][LX_ADDR_STR_MAX];
    const char *addrs[NKEYS];
    for (int i = 0; i < NKEYS; i++) {
        err = lx_address_encode(text[i], sizeof text[i], "X", d->hrp, d->owners + i * LX_ADDR_LEN);
        if (err != LX_OK)
            return err;
        addrs[i] = text[i];
    }
    if ((err = lx_wallet_fetch(*w, NULL, d->rpc, addrs, NKEYS, NULL)) != LX_OK)
        return err;
    size_t count = lx_wallet_utxo_count(*w);
    *utxos = calloc(count ? count : 1, sizeof **utxos);
    if (*utxos == NULL)
        return LX_ENOMEM;
    for (size_t i = 0; i < count; i++)
        lx_settle_utxo_from_x(&(*utxos)[i], lx_wallet_utxo_at(*w, i, NULL));
    *n = count;
    return LX_OK;
}

/* Builds the settlement tx of batch over the UTXO view utxos, has the
 * owners of the signer set sign it into a certificate, and writes the signed
 * bytes (malloc'd) and the txID. */
static lx_err certify(driver *d, const lx_batch *batch, const uint32_t signers[2],
                      const lx_channel_utxo *prev, size_t nprev, const lx_channel_utxo *utxos,
                      size_t nutxos, uint8_t **bytes, size_t *len, uint8_t id[LX_ID_LEN])
{
    lx_settle_tx *st = NULL;
    lx_cert *cert = NULL;
    lx_settle_params p;
    memset(&p, 0, sizeof p);
    p.network_id = d->wc.network_id;
    memcpy(p.blockchain_id, d->wc.blockchain_id, LX_ID_LEN);
    p.channel = &d->ch;
    p.nsigners = 2;
    p.signers = signers;
    p.select.now = (uint64_t)time(NULL);
    lx_err err = lx_settle_tx_build(&st, &p, batch, prev, nprev, utxos, nutxos);
    /* The signer nodes sign the tx hash; the leader certifies. */
    uint8_t tx_hash[LX_SHA256_LEN], bh[LX_SHA256_LEN];
    if (err == LX_OK)
        err = lx_tx_hash(lx_settle_tx_get(st), tx_hash);
    if (err == LX_OK)
        err = lx_batch_hash(batch, bh);
    if (err == LX_OK)
        err = lx_cert_new(&cert, &d->ch, bh, tx_hash);
    for (int k = 0; k < 2 && err == LX_OK; k++) {
        uint8_t signer[LX_XADDR_LEN], sig[LX_SIG_LEN];
        err = lx_settle_sign(d->by_owner[signers[k]], signer, sig, tx_hash);
        if (err == LX_OK)
            err = lx_cert_add(cert, NULL, sig, signer);
    }
    if (err == LX_OK)
        err = lx_settle_tx_sign_cert(st, cert);
    if (err == LX_OK)
        err = lx_settle_tx_encode(st, bytes, len, id);
    lx_cert_free(&cert);
    lx_settle_tx_free(&st);
    return err;
}

/* Certifies, issues and audits the settlement of batch over the node's
 * current UTXO view; writes its change to change[0..*nchange) and its
 * signed bytes to *bytes. */
static int settle(driver *d, const lx_batch *batch, const uint32_t signers[2],
                  const lx_channel_utxo *prev, size_t nprev, lx_channel_utxo *change,
                  size_t *nchange, uint8_t **bytes, size_t *len, uint8_t id[LX_ID_LEN])
{
    lx_wallet *w = NULL;
    lx_channel_utxo *utxos = NULL;
    size_t nutxos = 0;
    lx_tx *onchain = NULL;
    lx_rpc_blob got = {NULL, 0};
    int rc = 1;
    lx_err err = fetch_channel(d, &w, &utxos, &nutxos);
    if (err != LX_OK) {
        rc = die("fetch channel UTXOs", err, d);
        goto out;
    }
    err = certify(d, batch, signers, prev, nprev, utxos, nutxos, bytes, len, id);
    if (err != LX_OK) {
        rc = die("build and certify", err, d);
        goto out;
    }
    lx_submit_report rep;
    if ((err = lx_submit_tx(d->rpc, &rep, *bytes, *len, id, NULL)) != LX_OK) {
        rc = die("submit", err, d);
        goto out;
    }
    /* The auditor's view: the tx as the chain has it. */
    char why[256];
    if ((err = lx_rpc_get_tx(d->rpc, &got, id)) != LX_OK ||
        (err = lx_settle_tx_audit(why, sizeof why, got.bytes, got.len, batch, &d->ch,
                                  d->wc.network_id, d->wc.blockchain_id)) != LX_OK) {
        fprintf(stderr, "settle_driver: audit: %s\n", why);
        rc = die("audit", err, d);
        goto out;
    }
    const char *reason = NULL;
    if ((err = lx_tx_decode(&onchain, &reason, got.bytes, got.len)) != LX_OK ||
        (err = lx_settle_change(change, MAX_CHANGE, nchange, onchain, &d->ch)) != LX_OK) {
        rc = die("change", err, d);
        goto out;
    }
    const lx_tx_spec *v = lx_tx_view(onchain);
    size_t spent_prev = 0;
    for (size_t i = 0; i < v->nins; i++)
        for (size_t j = 0; j < nprev; j++)
            if (v->ins[i].output_index == prev[j].index &&
                memcmp(v->ins[i].tx_id, prev[j].tx_id, LX_ID_LEN) == 0)
                spent_prev++;
    if (spent_prev != nprev) {
        fprintf(stderr, "settle_driver: %zu of %zu previous changes spent\n", spent_prev, nprev);
        goto out;
    }
    char cb58[LX_CB58_ID_MAX];
    lx_id_to_cb58(cb58, id);
    lx_batch_info info;
    lx_batch_info_get(batch, &info);
    printf("settled %llu %s inputs %zu prev %zu\n", (unsigned long long)info.number, cb58, v->nins,
           spent_prev);
    fflush(stdout);
    rc = 0;
out:
    lx_rpc_blob_free(&got);
    lx_tx_free(&onchain);
    free(utxos);
    lx_wallet_free(&w);
    return rc;
}

static int run(driver *d, const char *const *key_files, const char *to, const uint64_t amount[2])
{
    lx_err err = lx_wallet_chain_query(d->rpc, &d->wc, "X", "LUX");
    if (err != LX_OK)
        return die("chain query", err, d);
    d->hrp = lx_wallet_network_hrp(d->wc.network_id);
    if (d->hrp == NULL)
        d->hrp = "local";
    if ((err = lx_wallet_address_parse(d->dest, NULL, 0, to, "X", d->hrp)) != LX_OK)
        return die("--to", err, d);
    for (int i = 0; i < NKEYS; i++) {
        if ((err = lx_keyfile_read(&d->keys[i], key_files[i])) != LX_OK)
            return die(key_files[i], err, d);
        lx_key_address(d->keys[i], d->owners + i * LX_ADDR_LEN);
    }
    qsort(d->owners, NKEYS, LX_ADDR_LEN, addr_cmp);
    for (int i = 0; i < NKEYS; i++)
        for (int k = 0; k < NKEYS; k++) {
            uint8_t a[LX_ADDR_LEN];
            lx_key_address(d->keys[k], a);
            if (memcmp(a, d->owners + i * LX_ADDR_LEN, LX_ADDR_LEN) == 0)
                d->by_owner[i] = d->keys[k];
        }
    d->ch.nowners = NKEYS;
    d->ch.owners = d->owners;
    d->ch.threshold = lx_quorum_threshold(NKEYS);

    /* The batches: a deposit credited earlier, then one withdrawal each. */
    lx_batch_config cfg;
    memset(&cfg, 0, sizeof cfg);
    lx_channel_id(cfg.channel_id, &d->ch, d->wc.network_id, d->wc.blockchain_id);
    cfg.fee_account = 1;
    memcpy(cfg.fee_asset, d->wc.fee_asset, LX_ID_LEN);
    cfg.tx_fee = d->wc.fee;
    cfg.next_number = 1;
    cfg.next_seq = 1;
    lx_batch_builder *bb = NULL;
    lx_batch *batch[2] = {NULL, NULL};
    uint8_t *bytes[2] = {NULL, NULL};
    size_t len[2] = {0, 0};
    uint8_t id[2][LX_ID_LEN];
    lx_channel_utxo change[2][MAX_CHANGE];
    size_t nchange[2] = {0, 0};
    static const uint32_t signer_sets[2][2] = {{0, 1}, {1, 2}};
    int rc = 1;
    /* The channel as it is before any settlement, kept for the rival. */
    lx_wallet *first_wallet = NULL;
    lx_channel_utxo *first_view = NULL;
    size_t nfirst = 0;
    err = fetch_channel(d, &first_wallet, &first_view, &nfirst);
    if (err == LX_OK)
        err = lx_batch_builder_new(&bb, &cfg);
    if (err == LX_OK)
        err = lx_batch_builder_add_asset(bb, 0, d->wc.fee_asset);
    /* Fills trade the fee asset against a quote asset that never moves
     * on-chain: they change the fills root and the net changes only. */
    uint8_t quote[LX_ID_LEN];
    lx_sha256(quote, "lxdex/test/quote", 16);
    if (err == LX_OK && d->fills > 0)
        err = lx_batch_builder_add_asset(bb, 1, quote);
    if (err == LX_OK && d->fills > 0)
        err = lx_batch_builder_add_market(bb, 0, 0, 1, 1);
    if (err != LX_OK) {
        rc = die("batch builder or channel UTXOs", err, d);
        goto out;
    }
    for (int k = 0; k < 2; k++) {
        uint64_t seq = 10 * (uint64_t)k + 1;
        err = lx_batch_builder_add_deposit(bb, seq, 42, 0, amount[k]);
        for (uint64_t f = 0; err == LX_OK && f < d->fills; f++) {
            lx_event ev;
            memset(&ev, 0, sizeof ev);
            ev.type = LX_EV_FILL;
            ev.side = (uint8_t)(f % 2 ? LX_SELL : LX_BUY);
            ev.id = 1000 * (uint64_t)k + 2 * f + 1;
            ev.account = 50 + f % 3;
            ev.u.fill.maker = 1000 * (uint64_t)k + 2 * f;
            ev.u.fill.maker_account = 60 + f % 2;
            ev.u.fill.price = 100 + f;
            ev.u.fill.qty = 1 + f % 5;
            ev.u.fill.maker_fee = f % 3;
            ev.u.fill.taker_fee = 1 + f % 3;
            err = lx_batch_builder_add_fill(bb, seq, &ev);
        }
        if (err == LX_OK)
            err = lx_batch_builder_add_withdrawal(bb, seq + 1, 42, 0, amount[k], d->dest);
        if (err == LX_OK)
            err = lx_batch_builder_close(bb, &batch[k], seq + 9);
        if (err != LX_OK) {
            rc = die("batch", err, d);
            goto out;
        }
        if (settle(d, batch[k], signer_sets[k], k ? change[0] : NULL, k ? nchange[0] : 0, change[k],
                   &nchange[k], &bytes[k], &len[k], id[k]) != 0)
            goto out;
        if (d->data_dir != NULL &&
            (err = lx_batch_store_write(d->data_dir, batch[k], id[k])) != LX_OK) {
            rc = die("--data-dir", err, d);
            goto out;
        }
    }
    /* A competing settlement of batch 1 (signer set {0, 2}) over the view
     * before batch 1 was settled: its inputs are spent, so it is refused. */
    uint8_t *rival = NULL, rival_id[LX_ID_LEN];
    size_t rival_len = 0;
    static const uint32_t rival_set[2] = {0, 2};
    err =
        certify(d, batch[0], rival_set, NULL, 0, first_view, nfirst, &rival, &rival_len, rival_id);
    if (err != LX_OK) {
        rc = die("rival settlement", err, d);
        goto out;
    }
    lx_submit_report rrep;
    err = lx_submit_tx(d->rpc, &rrep, rival, rival_len, rival_id, NULL);
    free(rival);
    printf("rival %s same-tx %d err %s\n", lx_tx_status_str(rrep.status),
           memcmp(rival_id, id[0], LX_ID_LEN) == 0, lx_strerror(err));
    if (lx_batch_follows(batch[1], batch[0]) != LX_OK) {
        fprintf(stderr, "settle_driver: batch 2 does not follow batch 1\n");
        goto out;
    }
    /* Issuing the first settlement again: the node has it accepted, so the
     * submitter reports Accepted and nothing is paid twice. */
    lx_submit_report rep;
    err = lx_submit_tx(d->rpc, &rep, bytes[0], len[0], id[0], NULL);
    printf("resubmit %s sends %u err %s\n", lx_tx_status_str(rep.status), rep.sends,
           lx_strerror(err));
    rc = 0;
out:
    for (int k = 0; k < 2; k++) {
        free(bytes[k]);
        lx_batch_free(&batch[k]);
    }
    lx_batch_builder_free(&bb);
    free(first_view);
    lx_wallet_free(&first_wallet);
    return rc;
}

int main(int argc, char **argv)
{
    const char *url = NULL, *to = NULL, *key_files[NKEYS];
    uint64_t amount[2];
    int nkeys = 0, namounts = 0;
    driver d;
    memset(&d, 0, sizeof d);
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *opt = argv[i], *val = argv[i + 1];
        if (strcmp(opt, "--rpc") == 0)
            url = val;
        else if (strcmp(opt, "--to") == 0)
            to = val;
        else if (strcmp(opt, "--key-file") == 0 && nkeys < NKEYS)
            key_files[nkeys++] = val;
        else if (strcmp(opt, "--data-dir") == 0)
            d.data_dir = val;
        else if (strcmp(opt, "--fills") == 0 && parse_u64(&d.fills, val) == 0 && d.fills <= 10000)
            ;
        else if (strcmp(opt, "--amount") == 0 && namounts < 2 &&
                 parse_u64(&amount[namounts], val) == 0 && amount[namounts] > 0)
            namounts++;
        else {
            fprintf(stderr, "settle_driver: bad option %s %s\n", opt, val);
            return 2;
        }
    }
    if (url == NULL || to == NULL || nkeys != NKEYS || namounts != 2 || argc % 2 != 1) {
        fprintf(stderr, "usage: settle_driver --rpc URL --key-file F (3 times) --to ADDR "
                        "--amount N --amount M [--fills K] [--data-dir DIR]\n");
        return 2;
    }
    lx_err err = lx_rpc_new(&d.rpc, url, NULL);
    if (err != LX_OK)
        return die("rpc", err, NULL);
    int rc = run(&d, key_files, to, amount);
    for (int i = 0; i < NKEYS; i++)
        lx_key_free(&d.keys[i]);
    lx_rpc_free(&d.rpc);
    return rc;
}
