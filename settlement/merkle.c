/* Merkle trees over SHA-256 with domain-separated leaves and inner nodes:
 * roots, whole trees for proofs, proof checks and the proof encoding. */
#include <stdlib.h>
#include <string.h>

#include "settlement_int.h"

#define HLEN LX_SHA256_LEN
#define LEVELS_MAX (LX_MERKLE_DEPTH_MAX + 1)

const uint8_t lx__merkle_empty_root[LX_SHA256_LEN] = {
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55};

struct lx_merkle_tree {
    size_t count;
    unsigned nlevels;              /* levels with the leaves; 0 when count is 0 */
    size_t offset[LEVELS_MAX + 1]; /* first hash of each level */
    uint8_t *h;                    /* all levels, leaves first, root last */
};

lx_err lx__merkle_hash(lx_sha256_ctx *ctx, uint8_t out[LX_SHA256_LEN], uint8_t tag,
                       const uint8_t *data, size_t len)
{
    /* The one-shot path is the fast one; the context is kept in the
     * signature for callers that hold one per thread. */
    (void)ctx;
    LX_ASSERT(len < LX_SHA256_MANY_MAX);
    return lx_sha256_many(out, &tag, 1, data, len, len, 1);
}

lx_err lx_merkle_leaf_hash(uint8_t out[LX_SHA256_LEN], const void *data, size_t len)
{
    if (!out || (!data && len))
        return LX_EINVAL;
    static const uint8_t leaf_tag = 0;
    if (len + 1 <= LX_SHA256_MANY_MAX)
        return lx_sha256_many(out, &leaf_tag, 1, data, len, len, 1);
    lx_sha256_ctx *ctx = NULL;
    lx_err err = lx_sha256_new(&ctx);
    if (err != LX_OK)
        return err;
    err = lx_sha256_update(ctx, &leaf_tag, 1);
    if (err == LX_OK)
        err = lx_sha256_update(ctx, data, len);
    if (err == LX_OK)
        err = lx_sha256_final(ctx, out);
    lx_sha256_free(&ctx);
    return err;
}

lx_err lx_merkle_node_hash(uint8_t out[LX_SHA256_LEN], const uint8_t left[LX_SHA256_LEN],
                           const uint8_t right[LX_SHA256_LEN])
{
    if (!out || !left || !right)
        return LX_EINVAL;
    uint8_t buf[1 + 2 * HLEN];
    buf[0] = 1;
    memcpy(buf + 1, left, HLEN);
    memcpy(buf + 1 + HLEN, right, HLEN);
    return lx_sha256(out, buf, sizeof buf);
}

size_t lx__merkle_tree_nodes(size_t n)
{
    size_t total = 0;
    for (size_t w = n; w > 0; w = w / 2 + (w & 1)) {
        total += w;
        if (w == 1)
            break;
    }
    return total;
}

lx_err lx__merkle_pairs(lx_sha256_ctx *ctx, uint8_t *out, const uint8_t *in, size_t w, size_t j0,
                        size_t j1)
{
    size_t pairs = w / 2;
    LX_ASSERT(j0 <= j1 && j1 <= pairs + (w & 1));
    (void)ctx;
    size_t end = j1 < pairs ? j1 : pairs;
    if (j0 < end) {
        /* Node j reads entries 2j and 2j + 1 before it is written, so out
         * may be in. */
        static const uint8_t node_tag = 1;
        lx_err err = lx_sha256_many(out + j0 * HLEN, &node_tag, 1, in + 2 * j0 * HLEN, 2 * HLEN,
                                    2 * HLEN, end - j0);
        if (err != LX_OK)
            return err;
    }
    if ((w & 1) && j1 == pairs + 1) /* the odd one out moves up unchanged */
        memmove(out + pairs * HLEN, in + (w - 1) * HLEN, HLEN);
    return LX_OK;
}

/* Hashes the level of width w at in into the next level at out (out may be
 * in: entry j is written only after entries 2j and 2j + 1 were read). */
static lx_err next_level(lx_sha256_ctx *ctx, uint8_t *out, const uint8_t *in, size_t w)
{
    return lx__merkle_pairs(ctx, out, in, w, 0, w / 2 + (w & 1));
}

lx_err lx_merkle_root(uint8_t root[LX_SHA256_LEN], const uint8_t *leaves, size_t n)
{
    if (!root || (!leaves && n))
        return LX_EINVAL;
    if (n == 0) {
        memcpy(root, lx__merkle_empty_root, HLEN);
        return LX_OK;
    }
    if (n == 1) {
        memcpy(root, leaves, HLEN);
        return LX_OK;
    }
    if (n > SIZE_MAX / HLEN)
        return LX_ENOMEM;
    uint8_t *work = malloc(n * HLEN);
    if (!work)
        return LX_ENOMEM;
    /* The first level reads the caller's leaves, the rest work in place. */
    size_t w = n;
    lx_err err = next_level(NULL, work, leaves, w);
    w = (w + 1) / 2;
    while (err == LX_OK && w > 1) {
        err = next_level(NULL, work, work, w);
        w = (w + 1) / 2;
    }
    if (err == LX_OK)
        memcpy(root, work, HLEN);
    free(work);
    return err;
}

lx_err lx__merkle_tree_adopt(lx_merkle_tree **t, uint8_t *h, size_t n)
{
    *t = NULL;
    lx_merkle_tree *tr = calloc(1, sizeof *tr);
    if (!tr)
        return LX_ENOMEM;
    tr->count = n;
    size_t total = 0;
    for (size_t w = n; w > 0; w = w / 2 + (w & 1)) {
        LX_ASSERT(tr->nlevels < LEVELS_MAX);
        tr->offset[tr->nlevels++] = total;
        total += w;
        if (w == 1)
            break;
    }
    tr->offset[tr->nlevels] = total;
    tr->h = h;
    *t = tr;
    return LX_OK;
}

lx_err lx__merkle_tree_build(lx_merkle_tree **t, lx_sha256_ctx *ctx, const uint8_t *leaves,
                             size_t n)
{
    *t = NULL;
    size_t total = lx__merkle_tree_nodes(n);
    if (total > SIZE_MAX / HLEN)
        return LX_ENOMEM;
    uint8_t *h = total ? malloc(total * HLEN) : NULL;
    if (total && !h)
        return LX_ENOMEM;
    if (n)
        memcpy(h, leaves, n * HLEN);
    size_t at = 0;
    for (size_t w = n; w > 1; w = w / 2 + (w & 1)) {
        lx_err err = next_level(ctx, h + (at + w) * HLEN, h + at * HLEN, w);
        if (err != LX_OK) {
            free(h);
            return err;
        }
        at += w;
    }
    lx_err err = lx__merkle_tree_adopt(t, h, n);
    if (err != LX_OK)
        free(h);
    return err;
}

lx_err lx_merkle_tree_new(lx_merkle_tree **t, const uint8_t *leaves, size_t n)
{
    if (!t)
        return LX_EINVAL;
    *t = NULL;
    if (!leaves && n)
        return LX_EINVAL;
    return lx__merkle_tree_build(t, NULL, leaves, n);
}

void lx_merkle_tree_free(lx_merkle_tree **t)
{
    if (!t || !*t)
        return;
    free((*t)->h);
    free(*t);
    *t = NULL;
}

size_t lx_merkle_tree_count(const lx_merkle_tree *t)
{
    return t ? t->count : 0;
}

lx_err lx_merkle_tree_root(const lx_merkle_tree *t, uint8_t root[LX_SHA256_LEN])
{
    if (!t || !root)
        return LX_EINVAL;
    if (t->count == 0)
        memcpy(root, lx__merkle_empty_root, HLEN);
    else
        memcpy(root, t->h + t->offset[t->nlevels - 1] * HLEN, HLEN);
    return LX_OK;
}

/* The shape of the path from leaf index in a tree of count leaves: how many
 * siblings it meets and on which side. Returns 0 when index >= count. */
static int path_shape(uint64_t index, uint64_t count, uint32_t *depth, uint64_t *bits)
{
    if (index >= count)
        return 0;
    uint32_t d = 0;
    uint64_t b = 0, p = index, w = count;
    while (w > 1) {
        if ((p ^ 1) < w) { /* p has a partner at this level */
            if (p & 1)
                b |= (uint64_t)1 << d;
            d++;
        }
        p >>= 1;
        w = w / 2 + (w & 1);
    }
    *depth = d;
    *bits = b;
    return 1;
}

lx_err lx_merkle_tree_proof(const lx_merkle_tree *t, lx_merkle_proof *proof, uint64_t index)
{
    if (!t || !proof || index >= t->count)
        return LX_EINVAL;
    memset(proof, 0, sizeof *proof);
    proof->index = index;
    proof->count = t->count;
    uint64_t p = index, w = t->count;
    uint32_t d = 0;
    for (unsigned l = 0; w > 1; l++) {
        if ((p ^ 1) < w) {
            memcpy(proof->sibling[d], t->h + (t->offset[l] + (p ^ 1)) * HLEN, HLEN);
            if (p & 1)
                proof->bits |= (uint64_t)1 << d;
            d++;
        }
        p >>= 1;
        w = w / 2 + (w & 1);
    }
    proof->depth = d;
    return LX_OK;
}

lx_err lx_merkle_proof_verify(const uint8_t root[LX_SHA256_LEN], const uint8_t leaf[LX_SHA256_LEN],
                              const lx_merkle_proof *proof)
{
    if (!root || !leaf || !proof)
        return LX_EINVAL;
    uint32_t depth;
    uint64_t bits;
    if (!path_shape(proof->index, proof->count, &depth, &bits) || depth != proof->depth ||
        bits != proof->bits)
        return LX_EFORMAT;
    uint8_t h[HLEN], buf[1 + 2 * HLEN];
    memcpy(h, leaf, HLEN);
    buf[0] = 1;
    for (uint32_t k = 0; k < depth; k++) {
        int left = (int)((bits >> k) & 1);
        memcpy(buf + 1, left ? proof->sibling[k] : h, HLEN);
        memcpy(buf + 1 + HLEN, left ? h : proof->sibling[k], HLEN);
        lx_err err = lx_sha256(h, buf, sizeof buf);
        if (err != LX_OK)
            return err;
    }
    return memcmp(h, root, HLEN) == 0 ? LX_OK : LX_ECRYPTO;
}

lx_err lx_merkle_proof_encode(const lx_merkle_proof *proof, uint8_t *out, size_t out_cap,
                              size_t *out_len)
{
    if (!proof || !out || !out_len || proof->depth > LX_MERKLE_DEPTH_MAX)
        return LX_EINVAL;
    size_t need = 17 + (size_t)proof->depth * HLEN;
    if (out_cap < need)
        return LX_EINVAL;
    lx__put_u64(out, proof->index);
    lx__put_u64(out + 8, proof->count);
    out[16] = (uint8_t)proof->depth;
    for (uint32_t k = 0; k < proof->depth; k++)
        memcpy(out + 17 + (size_t)k * HLEN, proof->sibling[k], HLEN);
    *out_len = need;
    return LX_OK;
}

lx_err lx_merkle_proof_decode(lx_merkle_proof *proof, const uint8_t *buf, size_t len)
{
    if (!proof || (!buf && len))
        return LX_EINVAL;
    if (len < 17)
        return LX_EFORMAT;
    lx_merkle_proof p;
    memset(&p, 0, sizeof p);
    p.index = lx__get_u64(buf);
    p.count = lx__get_u64(buf + 8);
    uint32_t depth;
    if (!path_shape(p.index, p.count, &depth, &p.bits) || buf[16] != depth ||
        len != 17 + (size_t)depth * HLEN)
        return LX_EFORMAT;
    p.depth = depth;
    for (uint32_t k = 0; k < depth; k++)
        memcpy(p.sibling[k], buf + 17 + (size_t)k * HLEN, HLEN);
    *proof = p;
    return LX_OK;
}
