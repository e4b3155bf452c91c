/* Settlement batches: the fill leaf, the batch object with its canonical
 * encoding and validating decoder, fill proofs against a batch, the chain
 * rule between batches, and what a batch's settlement tx must pay. */
#include <stdlib.h>
#include <string.h>

#include "settlement_int.h"

struct lx_batch {
    lx_batch_info info;
    uint8_t hash[LX_SHA256_LEN];
    lx_fill_leaf *fills; /* built batches only: fill_count leaves */
    lx_merkle_tree *tree;
    lx_net_change *net; /* built batches only: net_count changes */
    lx_transfer *deposits;
    size_t ndeposits;
    lx_transfer *withdrawals;
    size_t nwithdrawals;
};

/* ---- fill leaves ---- */

lx_err lx_fill_leaf_from_event(lx_fill_leaf *leaf, uint64_t fill_seq, uint64_t log_seq,
                               const lx_event *ev)
{
    if (!leaf || !ev || ev->type != LX_EV_FILL || ev->side > LX_SELL)
        return LX_EINVAL;
    memset(leaf, 0, sizeof *leaf); /* padding too: leaves compare with memcmp */
    leaf->fill_seq = fill_seq;
    leaf->log_seq = log_seq;
    leaf->market = ev->market;
    leaf->maker_order = ev->u.fill.maker;
    leaf->maker_account = ev->u.fill.maker_account;
    leaf->taker_order = ev->id;
    leaf->taker_account = ev->account;
    leaf->price = ev->u.fill.price;
    leaf->qty = ev->u.fill.qty;
    leaf->taker_side = ev->side;
    leaf->maker_fee = ev->u.fill.maker_fee;
    leaf->taker_fee = ev->u.fill.taker_fee;
    return LX_OK;
}

lx_err lx_fill_leaf_encode(uint8_t out[LX_FILL_LEAF_LEN], const lx_fill_leaf *leaf)
{
    if (!out || !leaf || leaf->taker_side > LX_SELL)
        return LX_EINVAL;
    lx__put_u64(out, leaf->fill_seq);
    lx__put_u64(out + 8, leaf->log_seq);
    lx__put_u32(out + 16, leaf->market);
    lx__put_u64(out + 20, leaf->maker_order);
    lx__put_u64(out + 28, leaf->maker_account);
    lx__put_u64(out + 36, leaf->taker_order);
    lx__put_u64(out + 44, leaf->taker_account);
    lx__put_u64(out + 52, leaf->price);
    lx__put_u64(out + 60, leaf->qty);
    out[68] = leaf->taker_side;
    lx__put_u64(out + 69, leaf->maker_fee);
    lx__put_u64(out + 77, leaf->taker_fee);
    _Static_assert(77 + 8 == LX_FILL_LEAF_LEN, "the leaf layout fills LX_FILL_LEAF_LEN");
    return LX_OK;
}

lx_err lx_fill_leaf_decode(lx_fill_leaf *leaf, const uint8_t *buf, size_t len)
{
    if (!leaf || (!buf && len))
        return LX_EINVAL;
    if (len != LX_FILL_LEAF_LEN || buf[68] > LX_SELL)
        return LX_EFORMAT;
    memset(leaf, 0, sizeof *leaf);
    leaf->fill_seq = lx__get_u64(buf);
    leaf->log_seq = lx__get_u64(buf + 8);
    leaf->market = lx__get_u32(buf + 16);
    leaf->maker_order = lx__get_u64(buf + 20);
    leaf->maker_account = lx__get_u64(buf + 28);
    leaf->taker_order = lx__get_u64(buf + 36);
    leaf->taker_account = lx__get_u64(buf + 44);
    leaf->price = lx__get_u64(buf + 52);
    leaf->qty = lx__get_u64(buf + 60);
    leaf->taker_side = buf[68];
    leaf->maker_fee = lx__get_u64(buf + 69);
    leaf->taker_fee = lx__get_u64(buf + 77);
    return LX_OK;
}

lx_err lx_fill_leaf_hash(uint8_t out[LX_SHA256_LEN], const lx_fill_leaf *leaf)
{
    uint8_t buf[LX_FILL_LEAF_LEN];
    lx_err err = lx_fill_leaf_encode(buf, leaf);
    if (err == LX_OK && !out)
        err = LX_EINVAL;
    if (err == LX_OK)
        err = lx_merkle_leaf_hash(out, buf, sizeof buf);
    return err;
}

/* ---- the encoding ---- */

static size_t encoded_len(const lx_batch *b)
{
    return LX_BATCH_HEADER_LEN + 4 + b->ndeposits * LX__DEPOSIT_ENC_LEN + 4 +
           b->nwithdrawals * LX__WITHDRAWAL_ENC_LEN;
}

static void encode(const lx_batch *b, uint8_t *p)
{
    const lx_batch_info *in = &b->info;
    *p++ = LX_BATCH_VERSION;
    memcpy(p, in->channel_id, 32), p += 32;
    lx__put_u64(p, in->number), p += 8;
    memcpy(p, in->prev_hash, 32), p += 32;
    lx__put_u64(p, in->first_seq), p += 8;
    lx__put_u64(p, in->last_seq), p += 8;
    lx__put_u64(p, in->first_fill), p += 8;
    lx__put_u64(p, in->fill_count), p += 8;
    memcpy(p, in->fills_root, 32), p += 32;
    lx__put_u32(p, in->net_count), p += 4;
    memcpy(p, in->net_root, 32), p += 32;
    memcpy(p, in->fee_asset, 32), p += 32;
    lx__put_u64(p, in->tx_fee), p += 8;
    lx__put_u32(p, (uint32_t)b->ndeposits), p += 4;
    for (size_t i = 0; i < b->ndeposits; i++) {
        const lx_transfer *t = &b->deposits[i];
        lx__put_u64(p, t->seq), p += 8;
        lx__put_u64(p, t->account), p += 8;
        memcpy(p, t->asset_id, 32), p += 32;
        lx__put_u64(p, t->amount), p += 8;
    }
    lx__put_u32(p, (uint32_t)b->nwithdrawals), p += 4;
    for (size_t i = 0; i < b->nwithdrawals; i++) {
        const lx_transfer *t = &b->withdrawals[i];
        lx__put_u64(p, t->seq), p += 8;
        lx__put_u64(p, t->account), p += 8;
        memcpy(p, t->asset_id, 32), p += 32;
        lx__put_u64(p, t->amount), p += 8;
        memcpy(p, t->dest, LX_XADDR_LEN), p += LX_XADDR_LEN;
    }
}

/* The canonical rules every batch obeys, built or decoded. */
static lx_err check_rules(const lx_batch *b)
{
    const lx_batch_info *in = &b->info;
    if (in->number == 0 || (in->number == 1) != lx__is_zero(in->prev_hash, 32))
        return LX_ECANONICAL;
    if (in->first_seq > in->last_seq)
        return LX_ECANONICAL;
    if (in->fill_count > UINT64_MAX - in->first_fill)
        return LX_ECANONICAL;
    if (in->fill_count == 0 && memcmp(in->fills_root, lx__merkle_empty_root, 32) != 0)
        return LX_ECANONICAL;
    if (in->net_count == 0 && memcmp(in->net_root, lx__merkle_empty_root, 32) != 0)
        return LX_ECANONICAL;
    const lx_transfer *lists[2] = {b->deposits, b->withdrawals};
    size_t counts[2] = {b->ndeposits, b->nwithdrawals};
    for (int l = 0; l < 2; l++) {
        uint64_t last = in->first_seq;
        for (size_t i = 0; i < counts[l]; i++) {
            const lx_transfer *t = &lists[l][i];
            if (t->amount == 0 || t->seq < last || t->seq > in->last_seq)
                return LX_ECANONICAL;
            if (l == 0 && !lx__is_zero(t->dest, LX_XADDR_LEN))
                return LX_ECANONICAL;
            last = t->seq;
        }
    }
    return LX_OK;
}

static lx_err compute_hash(lx_batch *b)
{
    size_t len = encoded_len(b);
    uint8_t *buf = malloc(len);
    if (!buf)
        return LX_ENOMEM;
    encode(b, buf);
    lx_err err = lx_sha256(b->hash, buf, len);
    free(buf);
    return err;
}

lx_err lx__batch_make(lx_batch **out, const lx_batch_info *info, lx_fill_leaf *fills,
                      lx_merkle_tree *tree, lx_net_change *net, lx_transfer *deposits,
                      size_t ndeposits, lx_transfer *withdrawals, size_t nwithdrawals)
{
    *out = NULL;
    lx_batch *b = calloc(1, sizeof *b);
    if (!b)
        return LX_ENOMEM;
    b->info = *info;
    b->fills = fills;
    b->tree = tree;
    b->net = net;
    b->deposits = deposits;
    b->ndeposits = ndeposits;
    b->withdrawals = withdrawals;
    b->nwithdrawals = nwithdrawals;
    lx_err err = check_rules(b);
    if (err == LX_OK)
        err = compute_hash(b);
    if (err != LX_OK) {
        free(b); /* the arrays stay the caller's */
        return err;
    }
    *out = b;
    return LX_OK;
}

void lx_batch_free(lx_batch **b)
{
    if (!b || !*b)
        return;
    free((*b)->fills);
    lx_merkle_tree_free(&(*b)->tree);
    free((*b)->net);
    free((*b)->deposits);
    free((*b)->withdrawals);
    free(*b);
    *b = NULL;
}

lx_err lx_batch_info_get(const lx_batch *b, lx_batch_info *out)
{
    if (!b || !out)
        return LX_EINVAL;
    *out = b->info;
    return LX_OK;
}

lx_err lx_batch_hash(const lx_batch *b, uint8_t out[LX_SHA256_LEN])
{
    if (!b || !out)
        return LX_EINVAL;
    memcpy(out, b->hash, LX_SHA256_LEN);
    return LX_OK;
}

const lx_transfer *lx_batch_deposits(const lx_batch *b, size_t *n)
{
    if (n)
        *n = b ? b->ndeposits : 0;
    return b ? b->deposits : NULL;
}

const lx_transfer *lx_batch_withdrawals(const lx_batch *b, size_t *n)
{
    if (n)
        *n = b ? b->nwithdrawals : 0;
    return b ? b->withdrawals : NULL;
}

const lx_net_change *lx_batch_net_changes(const lx_batch *b, size_t *n)
{
    if (n)
        *n = b && b->net ? b->info.net_count : 0;
    return b ? b->net : NULL;
}

const lx_fill_leaf *lx_batch_fills(const lx_batch *b, size_t *n)
{
    if (n)
        *n = b && b->fills ? (size_t)b->info.fill_count : 0;
    return b ? b->fills : NULL;
}

lx_err lx_batch_fill_proof(const lx_batch *b, lx_merkle_proof *proof, uint64_t i)
{
    if (!b || !proof)
        return LX_EINVAL;
    if (!b->tree)
        return b->info.fill_count ? LX_ESTATE : LX_EINVAL;
    return lx_merkle_tree_proof(b->tree, proof, i);
}

lx_err lx_batch_verify_fill(const lx_batch *b, const lx_fill_leaf *leaf,
                            const lx_merkle_proof *proof)
{
    if (!b || !leaf || !proof)
        return LX_EINVAL;
    if (proof->count != b->info.fill_count)
        return LX_EFORMAT;
    uint8_t h[LX_SHA256_LEN];
    lx_err err = lx_fill_leaf_hash(h, leaf);
    if (err != LX_OK)
        return err;
    err = lx_merkle_proof_verify(b->info.fills_root, h, proof);
    if (err != LX_OK)
        return err;
    /* The tree orders fills by their global index: the leaf's own index must
     * be its position, or one fill could be shown under another's number. */
    if (leaf->fill_seq != b->info.first_fill + proof->index)
        return LX_ECRYPTO;
    return LX_OK;
}

lx_err lx_batch_follows(const lx_batch *next, const lx_batch *prev)
{
    if (!next || !prev)
        return LX_EINVAL;
    const lx_batch_info *n = &next->info, *p = &prev->info;
    if (memcmp(n->channel_id, p->channel_id, LX_CHANNEL_ID_LEN) != 0 ||
        n->number != p->number + 1 || memcmp(n->prev_hash, prev->hash, LX_SHA256_LEN) != 0 ||
        p->last_seq == UINT64_MAX || n->first_seq != p->last_seq + 1 ||
        n->first_fill != p->first_fill + p->fill_count)
        return LX_ESTATE;
    return LX_OK;
}

size_t lx_batch_encoded_len(const lx_batch *b)
{
    return b ? encoded_len(b) : 0;
}

lx_err lx_batch_encode(const lx_batch *b, uint8_t *out, size_t out_cap, size_t *out_len)
{
    if (!b || !out || !out_len)
        return LX_EINVAL;
    size_t len = encoded_len(b);
    if (out_cap < len)
        return LX_EINVAL;
    encode(b, out);
    *out_len = len;
    return LX_OK;
}

static lx_err read_transfers(lx_transfer **out, size_t *n, const uint8_t **pp, const uint8_t *end,
                             size_t max, size_t each, int with_dest)
{
    const uint8_t *p = *pp;
    if (end - p < 4)
        return LX_EFORMAT;
    uint32_t count = lx__get_u32(p);
    p += 4;
    if (count > max)
        return LX_ETOOBIG;
    if ((size_t)(end - p) / each < count)
        return LX_EFORMAT;
    lx_transfer *v = NULL;
    if (count) {
        v = calloc(count, sizeof *v);
        if (!v)
            return LX_ENOMEM;
    }
    for (uint32_t i = 0; i < count; i++) {
        lx_transfer *t = &v[i];
        t->seq = lx__get_u64(p);
        t->account = lx__get_u64(p + 8);
        memcpy(t->asset_id, p + 16, 32);
        t->amount = lx__get_u64(p + 48);
        if (with_dest)
            memcpy(t->dest, p + 56, LX_XADDR_LEN);
        p += each;
    }
    *out = v;
    *n = count;
    *pp = p;
    return LX_OK;
}

lx_err lx_batch_decode(lx_batch **out, const uint8_t *buf, size_t len)
{
    if (!out)
        return LX_EINVAL;
    *out = NULL;
    if (!buf && len)
        return LX_EINVAL;
    if (len < LX_BATCH_HEADER_LEN)
        return LX_EFORMAT;
    if (len > LX_BATCH_ENC_MAX)
        return LX_ETOOBIG;
    const uint8_t *p = buf, *end = buf + len;
    if (*p++ != LX_BATCH_VERSION)
        return LX_EFORMAT;
    lx_batch_info in;
    memset(&in, 0, sizeof in);
    memcpy(in.channel_id, p, 32), p += 32;
    in.number = lx__get_u64(p), p += 8;
    memcpy(in.prev_hash, p, 32), p += 32;
    in.first_seq = lx__get_u64(p), p += 8;
    in.last_seq = lx__get_u64(p), p += 8;
    in.first_fill = lx__get_u64(p), p += 8;
    in.fill_count = lx__get_u64(p), p += 8;
    memcpy(in.fills_root, p, 32), p += 32;
    in.net_count = lx__get_u32(p), p += 4;
    memcpy(in.net_root, p, 32), p += 32;
    memcpy(in.fee_asset, p, 32), p += 32;
    in.tx_fee = lx__get_u64(p), p += 8;
    LX_ASSERT(p == buf + LX_BATCH_HEADER_LEN);
    lx_transfer *dep = NULL, *wd = NULL;
    size_t ndep = 0, nwd = 0;
    lx_err err =
        read_transfers(&dep, &ndep, &p, end, LX_BATCH_DEPOSITS_MAX, LX__DEPOSIT_ENC_LEN, 0);
    if (err == LX_OK)
        err =
            read_transfers(&wd, &nwd, &p, end, LX_BATCH_WITHDRAWALS_MAX, LX__WITHDRAWAL_ENC_LEN, 1);
    if (err == LX_OK && p != end)
        err = LX_EFORMAT; /* trailing bytes */
    if (err != LX_OK) {
        free(dep);
        free(wd);
        return err;
    }
    err = lx__batch_make(out, &in, NULL, NULL, NULL, dep, ndep, wd, nwd);
    if (err != LX_OK) {
        free(dep);
        free(wd);
    }
    return err;
}

static int amount_cmp(const void *a, const void *b)
{
    return memcmp(((const lx_asset_amount *)a)->asset_id, ((const lx_asset_amount *)b)->asset_id,
                  LX_ASSET_ID_LEN);
}

lx_err lx_batch_needs(const lx_batch *b, lx_asset_amount **needs, size_t *n)
{
    if (!b || !needs || !n)
        return LX_EINVAL;
    *needs = NULL;
    *n = 0;
    size_t cap = b->nwithdrawals + 1;
    lx_asset_amount *v = calloc(cap, sizeof *v);
    if (!v)
        return LX_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < b->nwithdrawals; i++) {
        memcpy(v[k].asset_id, b->withdrawals[i].asset_id, LX_ASSET_ID_LEN);
        v[k++].amount = b->withdrawals[i].amount;
    }
    if (b->info.tx_fee) {
        memcpy(v[k].asset_id, b->info.fee_asset, LX_ASSET_ID_LEN);
        v[k++].amount = b->info.tx_fee;
    }
    qsort(v, k, sizeof *v, amount_cmp);
    size_t m = 0;
    for (size_t i = 0; i < k; i++) {
        if (m > 0 && memcmp(v[m - 1].asset_id, v[i].asset_id, LX_ASSET_ID_LEN) == 0) {
            if (v[i].amount > UINT64_MAX - v[m - 1].amount) {
                free(v);
                return LX_EOVERFLOW;
            }
            v[m - 1].amount += v[i].amount;
        } else {
            v[m++] = v[i];
        }
    }
    if (m == 0) {
        free(v);
        v = NULL;
    }
    *needs = v;
    *n = m;
    return LX_OK;
}

lx_err lx_batch_rebuild(lx_batch **out, const uint8_t *enc, size_t enc_len,
                        const lx_fill_leaf *fills, size_t nfills, const lx_net_change *net,
                        size_t nnet)
{
    if (!out)
        return LX_EINVAL;
    *out = NULL;
    if ((!fills && nfills) || (!net && nnet))
        return LX_EINVAL;
    lx_batch *b = NULL;
    lx_err err = lx_batch_decode(&b, enc, enc_len);
    if (err != LX_OK)
        return err;
    const lx_batch_info *in = &b->info;
    uint8_t *h = NULL, root[LX_SHA256_LEN];
    if (nfills != in->fill_count || nnet != in->net_count) {
        err = LX_ECORRUPT;
        goto out;
    }
    if (nfills > SIZE_MAX / LX_SHA256_LEN || !(h = malloc((nfills ? nfills : 1) * LX_SHA256_LEN)) ||
        !(b->fills = malloc((nfills ? nfills : 1) * sizeof *fills)) ||
        !(b->net = malloc((nnet ? nnet : 1) * sizeof *net))) {
        err = LX_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < nfills && err == LX_OK; i++) {
        if (fills[i].fill_seq != in->first_fill + i)
            err = LX_ECORRUPT;
        else
            err = lx_fill_leaf_hash(h + i * LX_SHA256_LEN, &fills[i]);
    }
    if (err == LX_OK)
        err = lx_merkle_tree_new(&b->tree, h, nfills);
    if (err == LX_OK && (lx_merkle_tree_root(b->tree, root) != LX_OK ||
                         memcmp(root, in->fills_root, LX_SHA256_LEN) != 0))
        err = LX_ECORRUPT;
    /* The net changes: canonical, the batch's root, and conserving value
     * with its transfers, as lx_batch_builder_close made them. */
    if (err == LX_OK) {
        lx_err r = lx_net_root(root, net, nnet);
        if (r == LX_ENOMEM || r == LX_ECRYPTO)
            err = r;
        else if (r != LX_OK || memcmp(root, in->net_root, LX_SHA256_LEN) != 0)
            err = LX_ECORRUPT;
    }
    if (err == LX_OK) {
        lx_err r = lx_net_check(NULL, net, nnet, b->deposits, b->ndeposits, b->withdrawals,
                                b->nwithdrawals);
        if (r != LX_OK)
            err = r == LX_ENOMEM ? r : LX_ECORRUPT;
    }
    if (err == LX_OK) {
        if (nfills)
            memcpy(b->fills, fills, nfills * sizeof *fills);
        if (nnet)
            memcpy(b->net, net, nnet * sizeof *net);
    }
out:
    free(h);
    if (err != LX_OK) {
        lx_batch_free(&b);
        return err;
    }
    *out = b;
    return LX_OK;
}
