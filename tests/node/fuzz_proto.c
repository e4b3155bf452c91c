/* Fuzz entry point for the client wire protocol decoder. It checks that any
 * input decodes without a fault and that every frame that decodes re-encodes
 * to exactly the same bytes (one canonical form per message).
 *
 * libFuzzer build, from the project root:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Inode/include \
 *     -Iplugin/include -Isettlement/include -Ibridge/include \
 *     tests/node/fuzz_proto.c node/proto.c node/proto_list.c -o fuzz_proto && ./fuzz_proto
 * test_proto_fuzz.c includes this file and drives it for a bounded time. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lx/node.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

/* Re-encodes a decoded message into buf; returns the lx_err of the encoder. */
static lx_err fuzz_reencode(uint8_t *buf, size_t cap, size_t *n, const lx_proto_msg *m)
{
    static lx_order_cmd orders[LX_PROTO_BATCH_MAX];
    static lx_cancel_cmd cancels[LX_PROTO_BATCH_MAX];
    static lx_proto_batch_item items[LX_PROTO_BATCH_MAX];
    static lx_level bids[LX_PROTO_DEPTH_MAX], asks[LX_PROTO_DEPTH_MAX];
    static lx_proto_balance bals[LX_PROTO_LIST_MAX];
    static lx_proto_market mkts[LX_PROTO_LIST_MAX];
    const lx_proto_hdr *h = &m->hdr;

    switch (h->type) {
    case LX_PROTO_NEW_ORDER_BATCH:
        for (size_t i = 0; i < m->u.batch.count; i++)
            FUZZ_CHECK(lx_proto_batch_get(m, &orders[i], i) == LX_OK);
        FUZZ_CHECK(lx_proto_batch_get(m, &orders[0], m->u.batch.count) == LX_EINVAL);
        {
            /* The batch encoder writes no flags: a request may carry BUNDLE. */
            lx_err rc = lx_proto_encode_batch(buf, cap, n, h->req_id, orders, m->u.batch.count);
            if (rc == LX_OK) {
                buf[4] = (uint8_t)(h->flags >> 8);
                buf[5] = (uint8_t)h->flags;
            }
            return rc;
        }
    case LX_PROTO_CANCEL_BATCH:
        for (size_t i = 0; i < m->u.batch.count; i++)
            FUZZ_CHECK(lx_proto_cancel_batch_get(m, &cancels[i], i) == LX_OK);
        FUZZ_CHECK(lx_proto_cancel_batch_get(m, &cancels[0], m->u.batch.count) == LX_EINVAL);
        {
            lx_err rc =
                lx_proto_encode_cancel_batch(buf, cap, n, h->req_id, cancels, m->u.batch.count);
            if (rc == LX_OK) {
                buf[4] = (uint8_t)(h->flags >> 8);
                buf[5] = (uint8_t)h->flags;
            }
            return rc;
        }
    case LX_PROTO_BATCH_RESULT:
        for (size_t i = 0; i < m->u.batch.count; i++)
            FUZZ_CHECK(lx_proto_batch_result_get(m, &items[i], i) == LX_OK);
        return lx_proto_encode_batch_result(buf, cap, n, h->req_id, h->flags, items,
                                            m->u.batch.count);
    case LX_PROTO_BOOK:
        for (size_t i = 0; i < m->u.book.nbids; i++)
            FUZZ_CHECK(lx_proto_book_get(m, &bids[i], LX_BUY, i) == LX_OK);
        for (size_t i = 0; i < m->u.book.nasks; i++)
            FUZZ_CHECK(lx_proto_book_get(m, &asks[i], LX_SELL, i) == LX_OK);
        FUZZ_CHECK(lx_proto_book_get(m, &bids[0], LX_BUY, m->u.book.nbids) == LX_EINVAL);
        return lx_proto_encode_book(buf, cap, n, h->req_id, h->flags, m->u.book.market,
                                    m->u.book.seq, bids, m->u.book.nbids, asks, m->u.book.nasks);
    case LX_PROTO_BALANCES:
        for (size_t i = 0; i < m->u.balances.count; i++)
            FUZZ_CHECK(lx_proto_balances_get(m, &bals[i], i) == LX_OK);
        return lx_proto_encode_balances(buf, cap, n, h->req_id, h->flags, m->u.balances.account,
                                        bals, m->u.balances.count);
    case LX_PROTO_MARKETS:
        for (size_t i = 0; i < m->u.markets.count; i++)
            FUZZ_CHECK(lx_proto_markets_get(m, &mkts[i], i) == LX_OK);
        return lx_proto_encode_markets(buf, cap, n, h->req_id, h->flags, mkts, m->u.markets.count);
    default:
        return lx_proto_encode(buf, cap, n, m);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t again[LX_PROTO_FRAME_MAX];
    lx_proto_msg m;
    lx_proto_error code = LX_PROTO_E_COUNT;
    lx_err err = lx_proto_decode(&m, &code, data, size);

    if (err != LX_OK) {
        /* The error and the reply code agree. */
        FUZZ_CHECK(code > LX_PROTO_E_NONE && code <= LX_PROTO_E_UNKNOWN_TYPE);
        FUZZ_CHECK((err == LX_ETOOBIG) == (code == LX_PROTO_E_TOO_BIG));
        FUZZ_CHECK((err == LX_EUNSUPPORTED) == (code == LX_PROTO_E_BAD_VERSION));
        FUZZ_CHECK(err == LX_ETOOBIG || err == LX_EUNSUPPORTED || err == LX_EFORMAT);
        return 0;
    }
    FUZZ_CHECK(code == LX_PROTO_E_NONE);
    FUZZ_CHECK(size <= LX_PROTO_FRAME_MAX);
    FUZZ_CHECK(m.hdr.version == LX_PROTO_VERSION);

    size_t n = 0;
    FUZZ_CHECK(fuzz_reencode(again, sizeof again, &n, &m) == LX_OK);
    FUZZ_CHECK(n == size);
    FUZZ_CHECK(memcmp(again, data, size) == 0);
    return 0;
}
