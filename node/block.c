/* Log blocks: the canonical big-endian encoding of log entries and block
 * headers, a validating decoder, and the one function that applies a block to
 * an engine and advances the running state hash. */
#include <stdlib.h>
#include <string.h>

#include "logio.h"
#include "lx/node.h"
#include "node_int.h"

/* Encoded sizes of each entry kind, type byte included. */
#define PREFETCH_AHEAD 6u /* commands */
#define ENC_MARKET (1 + LX_NAME_MAX + 2 * LX_SYMBOL_MAX + 3 * 8 + 2 * 4)
#define ENC_TRANSFER (1 + 8 + 8 + LX_SYMBOL_MAX)
#define ENC_ORDER (1 + 8 + 8 + 4 + 5 + 8 + 8)
#define ENC_CANCEL (1 + 8 + 8)
#define ENC_REPLACE (1 + 8 + 8 + 8 + 8)
#define ENC_BATCH_CLOSE (1 + 8 + 8)
#define ENC_BATCH_SETTLED (1 + 8 + 32)
#define ENC_CHAIN_DEPOSIT (ENC_TRANSFER + 32 + 4)
#define ENC_WITHDRAW_TO (ENC_TRANSFER + 20)
_Static_assert(ENC_CHAIN_DEPOSIT <= LX_ENTRY_ENC_MAX, "entry sizes");

_Static_assert(ENC_MARKET == LX_ENTRY_ENC_MAX, "the market entry is the largest");
_Static_assert(ENC_ORDER <= LX_ENTRY_ENC_MAX && ENC_TRANSFER <= LX_ENTRY_ENC_MAX, "entry sizes");

/* The size of an entry of kind k (an lx_cmd_type), or 0 for an unknown kind. */
static size_t kind_len(unsigned k)
{
    switch (k) {
    case LX_CMD_MARKET:
        return ENC_MARKET;
    case LX_CMD_DEPOSIT:
    case LX_CMD_WITHDRAW:
        return ENC_TRANSFER;
    case LX_CMD_ORDER:
        return ENC_ORDER;
    case LX_CMD_CANCEL:
        return ENC_CANCEL;
    case LX_CMD_REPLACE:
        return ENC_REPLACE;
    case LX_ENTRY_BATCH_CLOSE:
        return ENC_BATCH_CLOSE;
    case LX_ENTRY_BATCH_SETTLED:
        return ENC_BATCH_SETTLED;
    case LX_ENTRY_CHAIN_DEPOSIT:
        return ENC_CHAIN_DEPOSIT;
    case LX_ENTRY_WITHDRAW_TO:
        return ENC_WITHDRAW_TO;
    default:
        return 0;
    }
}

static unsigned entry_kind(const lx_entry *ent)
{
    return ent->is_market ? LX_CMD_MARKET : ent->cmd.type;
}

int lx_entry_is_settle(const lx_entry *ent)
{
    return ent && !ent->is_market && ent->cmd.type >= LX_ENTRY_BATCH_CLOSE &&
           ent->cmd.type <= LX_ENTRY_WITHDRAW_TO;
}

/* A string field is valid when it has a NUL within its size. */
static int str_ok(const char *s, size_t size)
{
    return memchr(s, 0, size) != NULL;
}

/* Writes s up to its NUL and zero-fills the rest, so equal strings always
 * encode to equal bytes whatever garbage followed the NUL in memory. */
static uint8_t *put_str(uint8_t *p, const char *s, size_t size)
{
    const char *nul = memchr(s, 0, size);
    size_t n = nul ? (size_t)(nul - s) : size;
    memcpy(p, s, n);
    memset(p + n, 0, size - n);
    return p + size;
}

/* Reads a string field: NUL-terminated within its size, zeros after the NUL.
 * LX_EFORMAT without a NUL, LX_ECANONICAL for non-zero padding. */
static lx_err get_str(char *s, const uint8_t *p, size_t size)
{
    const uint8_t *nul = memchr(p, 0, size);
    if (!nul)
        return LX_EFORMAT;
    for (const uint8_t *q = nul; q < p + size; q++)
        if (*q)
            return LX_ECANONICAL;
    memcpy(s, p, size);
    return LX_OK;
}

static int order_ok(const lx_order_cmd *o)
{
    return o->side <= LX_SELL && o->type <= LX_MARKET && o->tif <= LX_FOK &&
           o->stp <= LX_STP_EXPIRE_BOTH;
}

size_t lx_entry_encode(uint8_t *buf, size_t len, const lx_entry *ent)
{
    if (!buf || !ent)
        return 0;
    unsigned k = entry_kind(ent);
    size_t need = kind_len(k);
    if (need == 0 || len < need)
        return 0;
    uint8_t *p = buf;
    *p++ = (uint8_t)k;
    switch (k) {
    case LX_CMD_MARKET: {
        const lx_market_spec *m = &ent->market;
        if (!str_ok(m->name, sizeof m->name) || !str_ok(m->base, sizeof m->base) ||
            !str_ok(m->quote, sizeof m->quote))
            return 0;
        p = put_str(p, m->name, sizeof m->name);
        p = put_str(p, m->base, sizeof m->base);
        p = put_str(p, m->quote, sizeof m->quote);
        lx__put_u64(p, m->lot);
        lx__put_u64(p + 8, m->tick);
        lx__put_u64(p + 16, m->min_qty);
        lx__put_u32(p + 24, m->maker_fee_bps);
        lx__put_u32(p + 28, m->taker_fee_bps);
        break;
    }
    case LX_CMD_DEPOSIT:
    case LX_CMD_WITHDRAW:
    case LX_ENTRY_CHAIN_DEPOSIT:
    case LX_ENTRY_WITHDRAW_TO: {
        const lx_transfer_cmd *t = &ent->cmd.u.transfer;
        if (!str_ok(t->asset, sizeof t->asset))
            return 0;
        lx__put_u64(p, t->account);
        lx__put_u64(p + 8, t->amount);
        put_str(p + 16, t->asset, sizeof t->asset);
        if (k == LX_ENTRY_CHAIN_DEPOSIT) {
            memcpy(p + 16 + LX_SYMBOL_MAX, ent->settle.tx_id, 32);
            lx__put_u32(p + 16 + LX_SYMBOL_MAX + 32, ent->settle.index);
        } else if (k == LX_ENTRY_WITHDRAW_TO) {
            memcpy(p + 16 + LX_SYMBOL_MAX, ent->settle.dest, 20);
        }
        break;
    }
    case LX_CMD_ORDER: {
        const lx_order_cmd *o = &ent->cmd.u.order;
        if (!order_ok(o))
            return 0;
        lx__put_u64(p, o->id);
        lx__put_u64(p + 8, o->account);
        lx__put_u32(p + 16, o->market);
        p[20] = o->side;
        p[21] = o->type;
        p[22] = o->tif;
        p[23] = o->stp;
        p[24] = o->post_only ? 1 : 0;
        lx__put_u64(p + 25, o->price);
        lx__put_u64(p + 33, o->qty);
        break;
    }
    case LX_CMD_CANCEL:
        lx__put_u64(p, ent->cmd.u.cancel.id);
        lx__put_u64(p + 8, ent->cmd.u.cancel.account);
        break;
    case LX_CMD_REPLACE:
        lx__put_u64(p, ent->cmd.u.replace.id);
        lx__put_u64(p + 8, ent->cmd.u.replace.account);
        lx__put_u64(p + 16, ent->cmd.u.replace.price);
        lx__put_u64(p + 24, ent->cmd.u.replace.qty);
        break;
    case LX_ENTRY_BATCH_CLOSE:
        if (ent->settle.number == 0)
            return 0;
        lx__put_u64(p, ent->settle.number);
        lx__put_u64(p + 8, ent->settle.now);
        break;
    case LX_ENTRY_BATCH_SETTLED:
        if (ent->settle.number == 0)
            return 0;
        lx__put_u64(p, ent->settle.number);
        memcpy(p + 8, ent->settle.tx_id, sizeof ent->settle.tx_id);
        break;
    default:
        return 0;
    }
    return need;
}

lx_err lx_entry_decode(lx_entry *out, size_t *used, const uint8_t *buf, size_t len)
{
    if (!out || !used || (!buf && len))
        return LX_EINVAL;
    if (len < 1)
        return LX_EFORMAT;
    unsigned k = buf[0];
    size_t need = kind_len(k);
    if (need == 0 || len < need)
        return LX_EFORMAT;
    const uint8_t *p = buf + 1;
    lx_err rc;
    /* The command and, for the kinds that use it, the union beside it are
     * zeroed; one memset of the whole entry was a slow string store that
     * took about 6% of a replay. */
    out->is_market = k == LX_CMD_MARKET;
    memset(&out->cmd, 0, sizeof out->cmd);
    if (!out->is_market)
        out->cmd.type = (uint8_t)k;
    _Static_assert(sizeof out->settle <= sizeof out->market, "the union is the market spec");
    if (k == LX_CMD_MARKET || (k >= LX_ENTRY_BATCH_CLOSE && k <= LX_ENTRY_WITHDRAW_TO))
        memset(&out->market, 0, sizeof out->market);
    switch (k) {
    case LX_CMD_MARKET: {
        lx_market_spec *m = &out->market;
        if ((rc = get_str(m->name, p, sizeof m->name)) != LX_OK ||
            (rc = get_str(m->base, p + LX_NAME_MAX, sizeof m->base)) != LX_OK ||
            (rc = get_str(m->quote, p + LX_NAME_MAX + LX_SYMBOL_MAX, sizeof m->quote)) != LX_OK)
            return rc;
        p += LX_NAME_MAX + 2 * LX_SYMBOL_MAX;
        m->lot = lx__get_u64(p);
        m->tick = lx__get_u64(p + 8);
        m->min_qty = lx__get_u64(p + 16);
        m->maker_fee_bps = lx__get_u32(p + 24);
        m->taker_fee_bps = lx__get_u32(p + 28);
        break;
    }
    case LX_CMD_DEPOSIT:
    case LX_CMD_WITHDRAW:
    case LX_ENTRY_CHAIN_DEPOSIT:
    case LX_ENTRY_WITHDRAW_TO: {
        lx_transfer_cmd *t = &out->cmd.u.transfer;
        t->account = lx__get_u64(p);
        t->amount = lx__get_u64(p + 8);
        if ((rc = get_str(t->asset, p + 16, sizeof t->asset)) != LX_OK)
            return rc;
        if (k == LX_ENTRY_CHAIN_DEPOSIT) {
            memcpy(out->settle.tx_id, p + 16 + LX_SYMBOL_MAX, 32);
            out->settle.index = lx__get_u32(p + 16 + LX_SYMBOL_MAX + 32);
        } else if (k == LX_ENTRY_WITHDRAW_TO) {
            memcpy(out->settle.dest, p + 16 + LX_SYMBOL_MAX, 20);
        }
        break;
    }
    case LX_CMD_ORDER: {
        lx_order_cmd *o = &out->cmd.u.order;
        o->id = lx__get_u64(p);
        o->account = lx__get_u64(p + 8);
        o->market = lx__get_u32(p + 16);
        o->side = p[20];
        o->type = p[21];
        o->tif = p[22];
        o->stp = p[23];
        if (p[24] > 1 || !order_ok(o))
            return LX_EFORMAT;
        o->post_only = p[24] == 1;
        o->price = lx__get_u64(p + 25);
        o->qty = lx__get_u64(p + 33);
        break;
    }
    case LX_CMD_CANCEL:
        out->cmd.u.cancel.id = lx__get_u64(p);
        out->cmd.u.cancel.account = lx__get_u64(p + 8);
        break;
    case LX_ENTRY_BATCH_CLOSE:
    case LX_ENTRY_BATCH_SETTLED:
        out->settle.number = lx__get_u64(p);
        if (out->settle.number == 0)
            return LX_EFORMAT;
        if (k == LX_ENTRY_BATCH_CLOSE)
            out->settle.now = lx__get_u64(p + 8);
        else
            memcpy(out->settle.tx_id, p + 8, sizeof out->settle.tx_id);
        break;
    default: /* LX_CMD_REPLACE; kind_len accepted nothing else */
        out->cmd.u.replace.id = lx__get_u64(p);
        out->cmd.u.replace.account = lx__get_u64(p + 8);
        out->cmd.u.replace.price = lx__get_u64(p + 16);
        out->cmd.u.replace.qty = lx__get_u64(p + 24);
        break;
    }
    *used = need;
    return LX_OK;
}

size_t lx_block_encoded_len(const lx_entry *entries, size_t n)
{
    if ((!entries && n) || n > LX_BLOCK_ENTRIES_MAX)
        return 0;
    size_t total = LX_BLOCK_HDR_LEN;
    for (size_t i = 0; i < n; i++) {
        size_t k = kind_len(entry_kind(&entries[i]));
        if (k == 0)
            return 0;
        total += k;
    }
    return total;
}

lx_err lx_block_encode(uint8_t *buf, size_t len, size_t *out_len, const lx_block_hdr *hdr,
                       const lx_entry *entries, size_t n)
{
    if (!buf || !out_len || !hdr || (!entries && n) || hdr->seq == 0)
        return LX_EINVAL;
    if (n > LX_BLOCK_ENTRIES_MAX)
        return LX_ETOOBIG;
    if (len < LX_BLOCK_HDR_LEN)
        return LX_EINVAL;
    buf[0] = LX_BLOCK_VERSION;
    lx__put_u64(buf + 1, hdr->seq);
    lx__put_u64(buf + 9, hdr->term);
    lx__put_u64(buf + 17, hdr->timestamp_us);
    lx__put_u32(buf + 25, (uint32_t)n);
    lx__put_u64(buf + 29, hdr->first_index);
    size_t off = LX_BLOCK_HDR_LEN;
    for (size_t i = 0; i < n; i++) {
        size_t w = lx_entry_encode(buf + off, len - off, &entries[i]);
        if (w == 0)
            return LX_EINVAL; /* an invalid entry or a short buffer */
        off += w;
    }
    *out_len = off;
    return LX_OK;
}

lx_err lx_block_peek(lx_block_hdr *out, const uint8_t *buf, size_t len)
{
    if (!out || (!buf && len))
        return LX_EINVAL;
    if (len > LX_BLOCK_BYTES_MAX)
        return LX_ETOOBIG;
    if (len < LX_BLOCK_HDR_LEN || buf[0] != LX_BLOCK_VERSION)
        return LX_EFORMAT;
    out->seq = lx__get_u64(buf + 1);
    out->term = lx__get_u64(buf + 9);
    out->timestamp_us = lx__get_u64(buf + 17);
    out->count = lx__get_u32(buf + 25);
    out->first_index = lx__get_u64(buf + 29);
    if (out->seq == 0)
        return LX_EFORMAT;
    if (out->count > LX_BLOCK_ENTRIES_MAX)
        return LX_ETOOBIG;
    /* Every entry takes at least ENC_CANCEL bytes: a count the buffer cannot
     * hold is rejected before anything is allocated for it. */
    if ((uint64_t)out->count * ENC_CANCEL > len - LX_BLOCK_HDR_LEN)
        return LX_EFORMAT;
    return LX_OK;
}

void lx_block_init(lx_block *b)
{
    if (b)
        memset(b, 0, sizeof *b);
}

void lx_block_free(lx_block *b)
{
    if (!b)
        return;
    free(b->entries);
    lx_block_init(b);
}

lx_err lx_block_decode(lx_block *b, const uint8_t *buf, size_t len)
{
    if (!b)
        return LX_EINVAL;
    lx_block_hdr h;
    lx_err rc = lx_block_peek(&h, buf, len);
    if (rc != LX_OK)
        return rc;
    if (h.count > b->cap) {
        lx_entry *v = realloc(b->entries, h.count * sizeof *v);
        if (!v)
            return LX_ENOMEM;
        b->entries = v;
        b->cap = h.count;
    }
    size_t off = LX_BLOCK_HDR_LEN;
    for (uint32_t i = 0; i < h.count; i++) {
        size_t used;
        if ((rc = lx_entry_decode(&b->entries[i], &used, buf + off, len - off)) != LX_OK)
            return rc;
        off += used;
    }
    if (off != len)
        return LX_EFORMAT; /* trailing bytes */
    b->hdr = h;
    return LX_OK;
}

lx_err lx_state_hash_next(uint8_t state_hash[LX_STATE_HASH_LEN], uint64_t seq, const lx_event *evs,
                          size_t n)
{
    if (!state_hash || (!evs && n))
        return LX_EINVAL;
    lx_sha256_ctx *ctx;
    lx_err rc = lx_sha256_new(&ctx);
    if (rc != LX_OK)
        return rc;
    /* The events are encoded back to back and hashed a buffer at a time:
     * one digest update per event cost more than the hashing itself. */
    uint8_t enc[64 * LX_EVENT_ENC_MAX];
    uint8_t events_hash[LX_SHA256_LEN];
    size_t used = 0;
    for (size_t i = 0; i < n && rc == LX_OK; i++) {
        if (sizeof enc - used < LX_EVENT_ENC_MAX) {
            rc = lx_sha256_update(ctx, enc, used);
            used = 0;
        }
        size_t w = lx_event_encode(enc + used, sizeof enc - used, &evs[i]);
        LX_ASSERT(w > 0);
        used += w;
    }
    if (rc == LX_OK)
        rc = lx_sha256_update(ctx, enc, used);
    if (rc == LX_OK)
        rc = lx_sha256_final(ctx, events_hash);

    uint8_t seqb[8];
    uint8_t next[LX_SHA256_LEN];
    lx__put_u64(seqb, seq);
    if (rc == LX_OK)
        rc = lx_sha256_update(ctx, state_hash, LX_STATE_HASH_LEN);
    if (rc == LX_OK)
        rc = lx_sha256_update(ctx, seqb, sizeof seqb);
    if (rc == LX_OK)
        rc = lx_sha256_update(ctx, events_hash, sizeof events_hash);
    if (rc == LX_OK)
        rc = lx_sha256_final(ctx, next);
    lx_sha256_free(&ctx);
    if (rc == LX_OK)
        memcpy(state_hash, next, sizeof next);
    return rc;
}

lx_err lx__block_apply_ends(lx_engine *e, lx_events *evs, uint8_t state_hash[LX_STATE_HASH_LEN],
                            const lx_block *b, size_t *ends)
{
    if (!e || !evs || !state_hash || !b || (!b->entries && b->hdr.count))
        return LX_EINVAL;
    size_t first = evs->n;
    for (uint32_t i = 0; i < b->hdr.count; i++) {
        const lx_entry *ent = &b->entries[i];
        lx_err rc = LX_OK;
        /* The id index slot of a command a few ahead: its cache miss
         * overlaps this one's work (about 10% of an apply on a book of
         * 100,000 orders). */
        if (i + PREFETCH_AHEAD < b->hdr.count && !b->entries[i + PREFETCH_AHEAD].is_market)
            lx_engine_prefetch(e, &b->entries[i + PREFETCH_AHEAD].cmd);
        if (ent->is_market) {
            rc = lx_engine_add_market(e, evs, &ent->market);
        } else if (ent->cmd.type == LX_ENTRY_CHAIN_DEPOSIT ||
                   ent->cmd.type == LX_ENTRY_WITHDRAW_TO) {
            lx_cmd c = ent->cmd; /* the engine sees a plain deposit or withdraw */
            c.type = ent->cmd.type == LX_ENTRY_CHAIN_DEPOSIT ? LX_CMD_DEPOSIT : LX_CMD_WITHDRAW;
            rc = lx_engine_apply(e, evs, &c);
        } else if (!lx_entry_is_settle(ent)) { /* batch close and settled make no events */
            rc = lx_engine_apply(e, evs, &ent->cmd);
        }
        if (rc != LX_OK)
            return rc;
        if (ends)
            ends[i] = evs->n;
    }
    const lx_event *mine = evs->n > first ? evs->v + first : NULL;
    return lx_state_hash_next(state_hash, b->hdr.seq, mine, evs->n - first);
}

lx_err lx_block_apply(lx_engine *e, lx_events *evs, uint8_t state_hash[LX_STATE_HASH_LEN],
                      const lx_block *b)
{
    return lx__block_apply_ends(e, evs, state_hash, b, NULL);
}
