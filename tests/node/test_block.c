/* Tests for log blocks: the entry and block encoding, the validating decoder,
 * and the running state hash of lx_block_apply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lx/node.h"

static lx_entry market_entry(const char *name, const char *base, const char *quote)
{
    lx_entry e;
    memset(&e, 0, sizeof e);
    e.is_market = 1;
    strcpy(e.market.name, name);
    strcpy(e.market.base, base);
    strcpy(e.market.quote, quote);
    e.market.lot = 100;
    e.market.tick = 5;
    e.market.min_qty = 1;
    e.market.maker_fee_bps = 10;
    e.market.taker_fee_bps = 20;
    return e;
}

static lx_entry transfer_entry(uint8_t type, uint64_t account, const char *asset, uint64_t amount)
{
    lx_entry e;
    memset(&e, 0, sizeof e);
    e.cmd.type = type;
    e.cmd.u.transfer.account = account;
    e.cmd.u.transfer.amount = amount;
    strcpy(e.cmd.u.transfer.asset, asset);
    return e;
}

static lx_entry order_entry(uint64_t id, uint64_t account, uint8_t side, uint64_t price,
                            uint64_t qty)
{
    lx_entry e;
    memset(&e, 0, sizeof e);
    e.cmd.type = LX_CMD_ORDER;
    e.cmd.u.order.id = id;
    e.cmd.u.order.account = account;
    e.cmd.u.order.market = 0;
    e.cmd.u.order.side = side;
    e.cmd.u.order.type = LX_LIMIT;
    e.cmd.u.order.tif = LX_GTC;
    e.cmd.u.order.stp = LX_STP_EXPIRE_MAKER;
    e.cmd.u.order.price = price;
    e.cmd.u.order.qty = qty;
    return e;
}

static lx_entry cancel_entry(uint64_t id, uint64_t account)
{
    lx_entry e;
    memset(&e, 0, sizeof e);
    e.cmd.type = LX_CMD_CANCEL;
    e.cmd.u.cancel.id = id;
    e.cmd.u.cancel.account = account;
    return e;
}

static lx_entry replace_entry(uint64_t id, uint64_t account, uint64_t price, uint64_t qty)
{
    lx_entry e;
    memset(&e, 0, sizeof e);
    e.cmd.type = LX_CMD_REPLACE;
    e.cmd.u.replace.id = id;
    e.cmd.u.replace.account = account;
    e.cmd.u.replace.price = price;
    e.cmd.u.replace.qty = qty;
    return e;
}

/* One entry of every kind, with fields that use all their bytes. */
static size_t every_kind(lx_entry *v)
{
    size_t n = 0;
    v[n++] = market_entry("BTC-USD", "BTC", "USD");
    v[n++] = transfer_entry(LX_CMD_DEPOSIT, 0x0102030405060708ull, "USD", UINT64_MAX);
    v[n++] = transfer_entry(LX_CMD_WITHDRAW, 7, "BTC", 99);
    v[n] = order_entry(0xfedcba9876543210ull, 3, LX_SELL, 1234567890123ull, 42);
    v[n].cmd.u.order.type = LX_MARKET;
    v[n].cmd.u.order.tif = LX_FOK;
    v[n].cmd.u.order.stp = LX_STP_EXPIRE_BOTH;
    v[n].cmd.u.order.post_only = true;
    v[n++].cmd.u.order.market = 0xA1B2C3D4u;
    v[n++] = cancel_entry(11, 12);
    v[n++] = replace_entry(13, 14, 15, 16);
    return n;
}

static void assert_entry_equal(const lx_entry *a, const lx_entry *b)
{
    assert_int_equal(a->is_market, b->is_market);
    if (a->is_market) {
        assert_memory_equal(&a->market, &b->market, sizeof a->market);
        return;
    }
    assert_int_equal(a->cmd.type, b->cmd.type);
    switch (a->cmd.type) {
    case LX_CMD_DEPOSIT:
    case LX_CMD_WITHDRAW:
        assert_int_equal(a->cmd.u.transfer.account, b->cmd.u.transfer.account);
        assert_int_equal(a->cmd.u.transfer.amount, b->cmd.u.transfer.amount);
        assert_string_equal(a->cmd.u.transfer.asset, b->cmd.u.transfer.asset);
        break;
    case LX_CMD_ORDER: {
        const lx_order_cmd *x = &a->cmd.u.order, *y = &b->cmd.u.order;
        assert_int_equal(x->id, y->id);
        assert_int_equal(x->account, y->account);
        assert_int_equal(x->market, y->market);
        assert_int_equal(x->side, y->side);
        assert_int_equal(x->type, y->type);
        assert_int_equal(x->tif, y->tif);
        assert_int_equal(x->stp, y->stp);
        assert_int_equal(x->post_only, y->post_only);
        assert_int_equal(x->price, y->price);
        assert_int_equal(x->qty, y->qty);
        break;
    }
    case LX_CMD_CANCEL:
        assert_memory_equal(&a->cmd.u.cancel, &b->cmd.u.cancel, sizeof a->cmd.u.cancel);
        break;
    case LX_CMD_REPLACE:
        assert_memory_equal(&a->cmd.u.replace, &b->cmd.u.replace, sizeof a->cmd.u.replace);
        break;
    default:
        fail();
    }
}

static size_t encode(uint8_t *buf, size_t cap, uint64_t seq, const lx_entry *v, size_t n)
{
    lx_block_hdr h = {
        .seq = seq, .term = 3, .timestamp_us = 1700000000000000ull, .first_index = 1000};
    size_t len = 0;
    assert_int_equal(lx_block_encode(buf, cap, &len, &h, v, n), LX_OK);
    assert_int_equal(len, lx_block_encoded_len(v, n));
    return len;
}

static void test_round_trip_every_kind(void **state)
{
    (void)state;
    lx_entry v[8];
    size_t n = every_kind(v);
    /* Garbage after a string's NUL must not reach the encoding. */
    v[0].market.name[10] = 'x';
    uint8_t buf[1024], again[1024];
    size_t len = encode(buf, sizeof buf, 77, v, n);
    assert_int_equal(len, LX_BLOCK_HDR_LEN + 73 + 29 + 29 + 42 + 17 + 33);
    assert_int_equal(buf[0], LX_BLOCK_VERSION);
    /* Big-endian seq right after the version byte. */
    assert_int_equal(buf[8], 77);
    assert_int_equal(buf[1], 0);

    lx_block b;
    lx_block_init(&b);
    assert_int_equal(lx_block_decode(&b, buf, len), LX_OK);
    assert_int_equal(b.hdr.seq, 77);
    assert_int_equal(b.hdr.term, 3);
    assert_int_equal(b.hdr.timestamp_us, 1700000000000000ull);
    assert_int_equal(b.hdr.first_index, 1000);
    assert_int_equal(b.hdr.count, n);
    v[0].market.name[10] = 0;
    for (size_t i = 0; i < n; i++)
        assert_entry_equal(&v[i], &b.entries[i]);

    size_t len2 = 0;
    assert_int_equal(lx_block_encode(again, sizeof again, &len2, &b.hdr, b.entries, b.hdr.count),
                     LX_OK);
    assert_int_equal(len2, len);
    assert_memory_equal(again, buf, len);

    /* The same structure is reused for a smaller block. */
    len = encode(buf, sizeof buf, 78, v + 4, 1);
    assert_int_equal(lx_block_decode(&b, buf, len), LX_OK);
    assert_int_equal(b.hdr.count, 1);
    assert_entry_equal(&v[4], &b.entries[0]);

    /* An empty block is valid. */
    len = encode(buf, sizeof buf, 79, NULL, 0);
    assert_int_equal(len, LX_BLOCK_HDR_LEN);
    assert_int_equal(lx_block_decode(&b, buf, len), LX_OK);
    assert_int_equal(b.hdr.count, 0);
    lx_block_free(&b);
    assert_null(b.entries);
}

static void test_entry_codec(void **state)
{
    (void)state;
    lx_entry v[8], out;
    size_t n = every_kind(v);
    uint8_t buf[LX_ENTRY_ENC_MAX];
    for (size_t i = 0; i < n; i++) {
        size_t w = lx_entry_encode(buf, sizeof buf, &v[i]);
        assert_true(w > 0 && w <= LX_ENTRY_ENC_MAX);
        assert_int_equal(lx_entry_encode(buf, w - 1, &v[i]), 0);
        size_t used = 0;
        assert_int_equal(lx_entry_decode(&out, &used, buf, w), LX_OK);
        assert_int_equal(used, w);
        assert_entry_equal(&v[i], &out);
        for (size_t cut = 0; cut < w; cut++)
            assert_int_equal(lx_entry_decode(&out, &used, buf, cut), LX_EFORMAT);
    }
}

static void test_truncated_rejected(void **state)
{
    (void)state;
    lx_entry v[8];
    size_t n = every_kind(v);
    uint8_t buf[1024];
    size_t len = encode(buf, sizeof buf, 5, v, n);
    lx_block b;
    lx_block_init(&b);
    for (size_t cut = 0; cut < len; cut++)
        assert_int_not_equal(lx_block_decode(&b, buf, cut), LX_OK);
    /* A trailing byte is not part of any entry. */
    buf[len] = 0;
    assert_int_equal(lx_block_decode(&b, buf, len + 1), LX_EFORMAT);
    lx_block_free(&b);
}

/* Decodes buf after setting byte at off to val; returns the result. */
static lx_err decode_patched(const uint8_t *orig, size_t len, size_t off, uint8_t val)
{
    uint8_t buf[1024];
    memcpy(buf, orig, len);
    buf[off] = val;
    lx_block b;
    lx_block_init(&b);
    lx_err rc = lx_block_decode(&b, buf, len);
    lx_block_free(&b);
    return rc;
}

static void test_malformed_rejected(void **state)
{
    (void)state;
    lx_entry v[8];
    size_t n = every_kind(v);
    uint8_t buf[1024];
    size_t len = encode(buf, sizeof buf, 5, v, n);
    const size_t h = LX_BLOCK_HDR_LEN;
    const size_t ord = h + 73 + 29 + 29; /* the order entry */

    assert_int_equal(decode_patched(buf, len, 0, 2), LX_EFORMAT);                 /* version */
    assert_int_equal(decode_patched(buf, len, 8, 0), LX_EFORMAT);                 /* seq 0 */
    assert_int_equal(decode_patched(buf, len, 28, (uint8_t)(n + 1)), LX_EFORMAT); /* count */
    assert_int_equal(decode_patched(buf, len, 28, (uint8_t)(n - 1)), LX_EFORMAT); /* trailing */
    assert_int_equal(decode_patched(buf, len, 26, 0x01), LX_ETOOBIG);             /* count 65536+ */
    assert_int_equal(decode_patched(buf, len, h, 6), LX_EFORMAT);                 /* unknown kind */
    assert_int_equal(decode_patched(buf, len, ord + 21, 2), LX_EFORMAT);          /* side */
    assert_int_equal(decode_patched(buf, len, ord + 22, 2), LX_EFORMAT);          /* type */
    assert_int_equal(decode_patched(buf, len, ord + 23, 3), LX_EFORMAT);          /* tif */
    assert_int_equal(decode_patched(buf, len, ord + 24, 3), LX_EFORMAT);          /* stp */
    assert_int_equal(decode_patched(buf, len, ord + 25, 2), LX_EFORMAT);          /* post_only */
    /* The market name "BTC-USD": no NUL within 16 bytes, then bytes after
     * the NUL. */
    {
        uint8_t b2[1024];
        memcpy(b2, buf, len);
        memset(b2 + h + 1, 'A', LX_NAME_MAX);
        lx_block b;
        lx_block_init(&b);
        assert_int_equal(lx_block_decode(&b, b2, len), LX_EFORMAT);
        lx_block_free(&b);
    }
    assert_int_equal(decode_patched(buf, len, h + 1 + 12, 'x'), LX_ECANONICAL);
    assert_int_equal(decode_patched(buf, len, h + 1 + 16 + 11, 'x'),
                     LX_ECANONICAL); /* base padding */
    /* The deposit's asset field: bytes after the NUL. */
    assert_int_equal(decode_patched(buf, len, h + 73 + 17 + 5, 'x'), LX_ECANONICAL);

    lx_block_hdr hd;
    assert_int_equal(lx_block_peek(&hd, buf, LX_BLOCK_BYTES_MAX + 1), LX_ETOOBIG);
    assert_int_equal(lx_block_peek(&hd, buf, len), LX_OK);
    assert_int_equal(hd.count, n);
    assert_int_equal(lx_block_decode(NULL, buf, len), LX_EINVAL);
}

/* Any single-byte change either fails to decode or decodes to something that
 * re-encodes to exactly the changed bytes: there is one encoding per block. */
static void test_flips_are_canonical(void **state)
{
    (void)state;
    lx_entry v[8];
    size_t n = every_kind(v);
    uint8_t buf[1024], re[1024];
    size_t len = encode(buf, sizeof buf, 5, v, n);
    lx_block b;
    lx_block_init(&b);
    static const uint8_t vals[] = {0x00, 0x01, 0x02, 0x7f, 0x80, 0xff};
    size_t decoded = 0;
    for (size_t off = 0; off < len; off++) {
        for (size_t k = 0; k < sizeof vals; k++) {
            uint8_t save = buf[off];
            buf[off] = vals[k];
            if (lx_block_decode(&b, buf, len) == LX_OK) {
                size_t l2 = 0;
                assert_int_equal(
                    lx_block_encode(re, sizeof re, &l2, &b.hdr, b.entries, b.hdr.count), LX_OK);
                assert_int_equal(l2, len);
                assert_memory_equal(re, buf, len);
                decoded++;
            }
            buf[off] = save;
        }
    }
    assert_true(decoded > len); /* most numeric bytes accept any value */
    lx_block_free(&b);
}

static void test_encoder_checks(void **state)
{
    (void)state;
    lx_entry v[8];
    size_t n = every_kind(v);
    uint8_t buf[1024];
    size_t len;
    lx_block_hdr h = {.seq = 1};
    assert_int_equal(lx_block_encode(buf, 10, &len, &h, v, n), LX_EINVAL);
    assert_int_equal(lx_block_encode(buf, 200, &len, &h, v, n), LX_EINVAL);
    h.seq = 0;
    assert_int_equal(lx_block_encode(buf, sizeof buf, &len, &h, v, n), LX_EINVAL);
    h.seq = 1;
    assert_int_equal(lx_block_encode(buf, sizeof buf, &len, &h, v, LX_BLOCK_ENTRIES_MAX + 1),
                     LX_ETOOBIG);
    assert_int_equal(lx_block_encoded_len(v, LX_BLOCK_ENTRIES_MAX + 1), 0);

    lx_entry bad = v[3];
    bad.cmd.u.order.side = 2;
    assert_int_equal(lx_block_encode(buf, sizeof buf, &len, &h, &bad, 1), LX_EINVAL);
    bad = v[1];
    memset(bad.cmd.u.transfer.asset, 'U', LX_SYMBOL_MAX);
    assert_int_equal(lx_block_encode(buf, sizeof buf, &len, &h, &bad, 1), LX_EINVAL);
    bad = v[4];
    bad.cmd.type = 9;
    assert_int_equal(lx_block_encode(buf, sizeof buf, &len, &h, &bad, 1), LX_EINVAL);
    assert_int_equal(lx_block_encoded_len(&bad, 1), 0);

    /* The largest block fits LX_BLOCK_BYTES_MAX exactly. */
    lx_entry *big = calloc(LX_BLOCK_ENTRIES_MAX, sizeof *big);
    assert_non_null(big);
    for (size_t i = 0; i < LX_BLOCK_ENTRIES_MAX; i++)
        big[i] = v[0];
    assert_int_equal(lx_block_encoded_len(big, LX_BLOCK_ENTRIES_MAX), LX_BLOCK_BYTES_MAX);
    uint8_t *bb = malloc(LX_BLOCK_BYTES_MAX);
    assert_non_null(bb);
    assert_int_equal(lx_block_encode(bb, LX_BLOCK_BYTES_MAX, &len, &h, big, LX_BLOCK_ENTRIES_MAX),
                     LX_OK);
    lx_block b;
    lx_block_init(&b);
    assert_int_equal(lx_block_decode(&b, bb, len), LX_OK);
    assert_int_equal(b.hdr.count, LX_BLOCK_ENTRIES_MAX);
    lx_block_free(&b);
    free(bb);
    free(big);
}

/* ---- state hash ---- */

/* A little market session spread over four blocks. */
static size_t session(lx_entry *v, size_t *cuts)
{
    size_t n = 0;
    v[n++] = market_entry("BTC-USD", "BTC", "USD");
    cuts[0] = n;
    v[n++] = transfer_entry(LX_CMD_DEPOSIT, 1, "USD", 10000000);
    v[n++] = transfer_entry(LX_CMD_DEPOSIT, 2, "BTC", 100000);
    cuts[1] = n;
    v[n++] = order_entry(1, 2, LX_SELL, 1000, 10);
    v[n++] = order_entry(2, 2, LX_SELL, 1005, 10);
    v[n++] = order_entry(3, 1, LX_BUY, 1005, 15);
    v[n++] = replace_entry(2, 2, 1010, 3);
    cuts[2] = n;
    v[n++] = cancel_entry(2, 2);
    v[n++] = transfer_entry(LX_CMD_WITHDRAW, 1, "BTC", 100);
    v[n++] = order_entry(4, 1, LX_BUY, 7, 1); /* bad_price: a reject also counts */
    cuts[3] = n;
    return n;
}

/* Runs the session through a fresh engine, block by block; writes the final
 * hash and, if wanted, every event. */
static void run_session(uint8_t hash[32], lx_events *all, const lx_entry *v, const size_t *cuts)
{
    lx_engine_config cfg = {.fee_account = 0};
    lx_engine *e = NULL;
    assert_int_equal(lx_engine_new(&e, &cfg), LX_OK);
    memset(hash, 0, 32);
    lx_events evs;
    lx_events_init(&evs);
    lx_block b;
    lx_block_init(&b);
    uint8_t buf[4096];
    size_t start = 0;
    for (uint64_t k = 0; k < 4; k++) {
        size_t len = encode(buf, sizeof buf, k + 1, v + start, cuts[k] - start);
        assert_int_equal(lx_block_decode(&b, buf, len), LX_OK);
        lx_events_clear(&evs);
        assert_int_equal(lx_block_apply(e, &evs, hash, &b), LX_OK);
        assert_true(evs.n >= b.hdr.count);
        for (size_t i = 0; all && i < evs.n; i++) {
            if (all->n == all->cap) {
                all->cap = all->cap ? all->cap * 2 : 64;
                all->v = realloc(all->v, all->cap * sizeof *all->v);
                assert_non_null(all->v);
            }
            all->v[all->n++] = evs.v[i];
        }
        start = cuts[k];
    }
    lx_block_free(&b);
    lx_events_free(&evs);
    lx_engine_free(&e);
}

static void test_state_hash_deterministic(void **state)
{
    (void)state;
    lx_entry v[32];
    size_t cuts[4];
    session(v, cuts);
    uint8_t h1[32], h2[32], zero[32] = {0};
    run_session(h1, NULL, v, cuts);
    run_session(h2, NULL, v, cuts);
    assert_memory_equal(h1, h2, 32);
    assert_memory_not_equal(h1, zero, 32);

    /* A changed quantity changes the hash. */
    v[5].cmd.u.order.qty = 14;
    run_session(h2, NULL, v, cuts);
    assert_memory_not_equal(h1, h2, 32);
    v[5].cmd.u.order.qty = 15;

    /* So does moving an entry to another block (the seq is hashed). */
    size_t moved[4] = {cuts[0], cuts[1] + 1, cuts[2], cuts[3]};
    run_session(h2, NULL, v, moved);
    assert_memory_not_equal(h1, h2, 32);
}

/* The hash is exactly the documented formula. */
static void test_state_hash_formula(void **state)
{
    (void)state;
    lx_events evs;
    lx_events_init(&evs);
    lx_event ev[2];
    memset(ev, 0, sizeof ev);
    ev[0].type = LX_EV_BALANCE;
    ev[0].cmd = LX_CMD_DEPOSIT;
    ev[0].account = 9;
    ev[0].u.balance.amount = 5;
    ev[0].u.balance.available = 5;
    ev[1].type = LX_EV_REJECTED;
    ev[1].cmd = LX_CMD_ORDER;
    ev[1].reason = LX_R_BAD_PRICE;
    ev[1].id = 4;

    uint8_t prev[32], got[32], enc[2 * LX_EVENT_ENC_MAX], eh[32], msg[72], want[32];
    for (int i = 0; i < 32; i++)
        prev[i] = (uint8_t)i;
    memcpy(got, prev, 32);
    assert_int_equal(lx_state_hash_next(got, 0x0102030405060708ull, ev, 2), LX_OK);

    size_t w = lx_event_encode(enc, LX_EVENT_ENC_MAX, &ev[0]);
    w += lx_event_encode(enc + w, LX_EVENT_ENC_MAX, &ev[1]);
    assert_int_equal(lx_sha256(eh, enc, w), LX_OK);
    memcpy(msg, prev, 32);
    for (int i = 0; i < 8; i++)
        msg[32 + i] = (uint8_t)(i + 1);
    memcpy(msg + 40, eh, 32);
    assert_int_equal(lx_sha256(want, msg, sizeof msg), LX_OK);
    assert_memory_equal(got, want, 32);

    /* No events: the events hash is sha256 of nothing. */
    memcpy(got, prev, 32);
    assert_int_equal(lx_state_hash_next(got, 0x0102030405060708ull, NULL, 0), LX_OK);
    assert_int_equal(lx_sha256(eh, NULL, 0), LX_OK);
    memcpy(msg + 40, eh, 32);
    assert_int_equal(lx_sha256(want, msg, sizeof msg), LX_OK);
    assert_memory_equal(got, want, 32);
    lx_events_free(&evs);
}

/* Many events (more than the hashing buffer holds): still the hash of all
 * their encodings back to back. */
static void test_state_hash_of_a_thousand_events(void **state)
{
    (void)state;
    enum { N = 1000 };
    lx_event *ev = calloc(N, sizeof *ev);
    uint8_t *enc = malloc((size_t)N * LX_EVENT_ENC_MAX);
    assert_non_null(ev);
    assert_non_null(enc);
    size_t w = 0;
    for (size_t i = 0; i < N; i++) {
        ev[i].type = i % 3 ? LX_EV_BALANCE : LX_EV_REJECTED;
        ev[i].cmd = i % 3 ? LX_CMD_DEPOSIT : LX_CMD_ORDER;
        ev[i].account = i;
        ev[i].id = 1000000 + i;
        ev[i].reason = LX_R_BAD_PRICE;
        ev[i].u.balance.amount = i * 7;
        ev[i].u.balance.available = i * 11;
        w += lx_event_encode(enc + w, LX_EVENT_ENC_MAX, &ev[i]);
    }
    uint8_t got[32], eh[32], msg[72], want[32];
    memset(got, 0xab, sizeof got);
    memcpy(msg, got, 32);
    assert_int_equal(lx_state_hash_next(got, 77, ev, N), LX_OK);
    assert_int_equal(lx_sha256(eh, enc, w), LX_OK);
    memset(msg + 32, 0, 7);
    msg[39] = 77;
    memcpy(msg + 40, eh, 32);
    assert_int_equal(lx_sha256(want, msg, sizeof msg), LX_OK);
    assert_memory_equal(got, want, 32);
    free(enc);
    free(ev);
}

/* lx_block_apply keeps what was in evs and hashes only this block's events. */
static void test_apply_appends(void **state)
{
    (void)state;
    lx_entry v[32];
    size_t cuts[4];
    session(v, cuts);
    lx_engine_config cfg = {.fee_account = 0};
    lx_engine *e1 = NULL, *e2 = NULL;
    assert_int_equal(lx_engine_new(&e1, &cfg), LX_OK);
    assert_int_equal(lx_engine_new(&e2, &cfg), LX_OK);
    uint8_t buf[4096], h1[32] = {0}, h2[32] = {0};
    lx_block b;
    lx_block_init(&b);
    lx_events a, c;
    lx_events_init(&a);
    lx_events_init(&c);
    size_t len = encode(buf, sizeof buf, 1, v, cuts[1]);
    assert_int_equal(lx_block_decode(&b, buf, len), LX_OK);
    assert_int_equal(lx_block_apply(e1, &a, h1, &b), LX_OK);
    size_t first = a.n;
    assert_int_equal(first, 3); /* market, balance, balance */
    assert_int_equal(a.v[0].type, LX_EV_MARKET);
    assert_int_equal(lx_block_apply(e2, &c, h2, &b), LX_OK);

    len = encode(buf, sizeof buf, 2, v + cuts[1], cuts[2] - cuts[1]);
    assert_int_equal(lx_block_decode(&b, buf, len), LX_OK);
    assert_int_equal(lx_block_apply(e1, &a, h1, &b), LX_OK); /* a keeps block 1's */
    lx_events_clear(&c);
    assert_int_equal(lx_block_apply(e2, &c, h2, &b), LX_OK);
    assert_int_equal(a.n, first + c.n);
    assert_memory_equal(h1, h2, 32);

    assert_int_equal(lx_block_apply(NULL, &a, h1, &b), LX_EINVAL);
    assert_int_equal(lx_block_apply(e1, NULL, h1, &b), LX_EINVAL);
    lx_events_free(&a);
    lx_events_free(&c);
    lx_block_free(&b);
    lx_engine_free(&e1);
    lx_engine_free(&e2);
}

/* Settlement entries: they round-trip, batch number 0 is refused both
 * ways, and applying them makes no events and leaves the engine and the
 * state hash as an empty block would. */
static void test_settle_entries(void **state)
{
    (void)state;
    lx_entry v[2];
    memset(v, 0, sizeof v);
    v[0].cmd.type = LX_ENTRY_BATCH_CLOSE;
    v[0].settle.number = 3;
    v[0].settle.now = 1795657228;
    v[1].cmd.type = LX_ENTRY_BATCH_SETTLED;
    v[1].settle.number = 2;
    memset(v[1].settle.tx_id, 0xAB, 32);
    assert_true(lx_entry_is_settle(&v[0]));
    assert_true(lx_entry_is_settle(&v[1]));
    uint8_t e[LX_ENTRY_ENC_MAX];
    assert_int_equal(lx_entry_encode(e, sizeof e, &v[0]), 17);
    assert_int_equal(e[0], 0x40);
    assert_int_equal(lx_entry_encode(e, sizeof e, &v[1]), 41);
    assert_int_equal(e[0], 0x41);
    uint8_t buf[256];
    lx_block_hdr h = {.seq = 4, .term = 1, .timestamp_us = 9, .first_index = 10};
    size_t len = 0;
    assert_int_equal(lx_block_encode(buf, sizeof buf, &len, &h, v, 2), LX_OK);
    assert_int_equal(len, LX_BLOCK_HDR_LEN + 17 + 41);
    lx_block b;
    lx_block_init(&b);
    assert_int_equal(lx_block_decode(&b, buf, len), LX_OK);
    assert_int_equal(b.hdr.count, 2);
    assert_int_equal(b.entries[0].cmd.type, LX_ENTRY_BATCH_CLOSE);
    assert_int_equal(b.entries[0].settle.number, 3);
    assert_int_equal(b.entries[0].settle.now, 1795657228);
    assert_int_equal(b.entries[1].settle.number, 2);
    assert_memory_equal(b.entries[1].settle.tx_id, v[1].settle.tx_id, 32);

    lx_engine_config cfg = {.fee_account = 0};
    lx_engine *eng = NULL;
    assert_int_equal(lx_engine_new(&eng, &cfg), LX_OK);
    lx_events evs;
    lx_events_init(&evs);
    uint8_t h1[32] = {0}, h2[32] = {0};
    assert_int_equal(lx_block_apply(eng, &evs, h1, &b), LX_OK);
    assert_int_equal(evs.n, 0);
    assert_int_equal(lx_state_hash_next(h2, 4, NULL, 0), LX_OK);
    assert_memory_equal(h1, h2, 32);

    /* batch number 0 */
    v[0].settle.number = 0;
    assert_int_equal(lx_entry_encode(e, sizeof e, &v[0]), 0);
    buf[LX_BLOCK_HDR_LEN + 8] = 0; /* the low byte of the close's number, 3 -> 0 */
    assert_int_equal(lx_block_decode(&b, buf, len), LX_EFORMAT);
    assert_false(lx_entry_is_settle(&(lx_entry){.cmd.type = LX_CMD_ORDER}));
    lx_events_free(&evs);
    lx_block_free(&b);
    lx_engine_free(&eng);
}

/* A chain deposit and a withdraw-to reach the engine as a deposit and a
 * withdraw, with the same events as the plain commands, and carry their
 * UTXO and destination through the encoding. */
static void test_settle_transfers(void **state)
{
    (void)state;
    lx_entry plain[4], ours[4];
    plain[0] = market_entry("LUX-USD", "LUX", "USD");
    plain[1] = transfer_entry(LX_CMD_DEPOSIT, 7, "USD", 5000);
    plain[2] = transfer_entry(LX_CMD_WITHDRAW, 7, "USD", 1200);
    plain[3] = transfer_entry(LX_CMD_WITHDRAW, 7, "USD", 999999); /* rejected */
    memcpy(ours, plain, sizeof ours);
    ours[1].cmd.type = LX_ENTRY_CHAIN_DEPOSIT;
    memset(ours[1].settle.tx_id, 0xD1, 32);
    ours[1].settle.index = 3;
    for (int i = 2; i < 4; i++) {
        ours[i].cmd.type = LX_ENTRY_WITHDRAW_TO;
        memset(ours[i].settle.dest, 0x90 + i, 20);
    }
    uint8_t e[LX_ENTRY_ENC_MAX];
    assert_int_equal(lx_entry_encode(e, sizeof e, &ours[1]), 65);
    assert_int_equal(e[0], 0x42);
    assert_int_equal(lx_entry_encode(e, sizeof e, &ours[2]), 49);
    assert_int_equal(e[0], 0x43);
    uint8_t b1[1024], b2[1024];
    lx_block_hdr h = {.seq = 1, .term = 1, .timestamp_us = 1, .first_index = 1};
    size_t l1, l2;
    assert_int_equal(lx_block_encode(b1, sizeof b1, &l1, &h, plain, 4), LX_OK);
    assert_int_equal(lx_block_encode(b2, sizeof b2, &l2, &h, ours, 4), LX_OK);
    assert_int_equal(l2, l1 + 36 + 20 + 20);
    lx_block bp, bo;
    lx_block_init(&bp);
    lx_block_init(&bo);
    assert_int_equal(lx_block_decode(&bp, b1, l1), LX_OK);
    assert_int_equal(lx_block_decode(&bo, b2, l2), LX_OK);
    assert_int_equal(bo.entries[1].settle.index, 3);
    assert_memory_equal(bo.entries[1].settle.tx_id, ours[1].settle.tx_id, 32);
    assert_memory_equal(bo.entries[3].settle.dest, ours[3].settle.dest, 20);
    assert_string_equal(bo.entries[2].cmd.u.transfer.asset, "USD");
    assert_int_equal(bo.entries[2].cmd.u.transfer.amount, 1200);

    lx_engine_config cfg = {.fee_account = 0};
    lx_engine *e1 = NULL, *e2 = NULL;
    assert_int_equal(lx_engine_new(&e1, &cfg), LX_OK);
    assert_int_equal(lx_engine_new(&e2, &cfg), LX_OK);
    lx_events a, c;
    lx_events_init(&a);
    lx_events_init(&c);
    uint8_t h1[32] = {0}, h2[32] = {0};
    assert_int_equal(lx_block_apply(e1, &a, h1, &bp), LX_OK);
    assert_int_equal(lx_block_apply(e2, &c, h2, &bo), LX_OK);
    assert_int_equal(a.n, c.n);
    assert_memory_equal(h1, h2, 32); /* the same events, so the same state hash */
    assert_int_equal(c.v[1].type, LX_EV_BALANCE);
    assert_int_equal(c.v[1].cmd, LX_CMD_DEPOSIT);
    assert_int_equal(c.v[2].type, LX_EV_BALANCE);
    assert_int_equal(c.v[2].cmd, LX_CMD_WITHDRAW);
    assert_int_equal(c.v[3].type, LX_EV_REJECTED);
    lx_events_free(&a);
    lx_events_free(&c);
    lx_block_free(&bp);
    lx_block_free(&bo);
    lx_engine_free(&e1);
    lx_engine_free(&e2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_every_kind),
        cmocka_unit_test(test_entry_codec),
        cmocka_unit_test(test_truncated_rejected),
        cmocka_unit_test(test_malformed_rejected),
        cmocka_unit_test(test_flips_are_canonical),
        cmocka_unit_test(test_encoder_checks),
        cmocka_unit_test(test_state_hash_deterministic),
        cmocka_unit_test(test_state_hash_formula),
        cmocka_unit_test(test_state_hash_of_a_thousand_events),
        cmocka_unit_test(test_apply_appends),
        cmocka_unit_test(test_settle_entries),
        cmocka_unit_test(test_settle_transfers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
