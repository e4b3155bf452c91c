/* Answers to queries and PING from this node's own replica: order status,
 * book depth, balances and the market list (docs/protocol.md). */
#include <stdio.h>
#include <string.h>

#include "node_int.h"

void lx__answer_query(lx__node *n, const lx__origin *o, const lx_proto_msg *q, uint64_t recv_us)
{
    static lx_level bids[LX_PROTO_DEPTH_MAX], asks[LX_PROTO_DEPTH_MAX];
    uint8_t *buf = n->scratch2;
    size_t cap = LX_PROTO_FRAME_MAX, w = 0;
    uint64_t req_id = q->hdr.req_id;
    lx_proto_msg m;
    memset(&m, 0, sizeof m);
    m.hdr.req_id = req_id;
    lx_err rc = LX_EINVAL;
    switch (q->hdr.type) {
    case LX_PROTO_PING:
        m.hdr.type = LX_PROTO_PONG;
        m.u.pong = (lx_proto_pong){n->seq, (uint8_t)(n->is_leader ? 1 : 0)};
        rc = lx_proto_encode(buf, cap, &w, &m);
        break;
    case LX_PROTO_QUERY_ORDER: {
        lx_order_info oi;
        if (lx_engine_order(n->engine, &oi, q->u.query_order) == LX_OK) {
            m.hdr.type = LX_PROTO_ORDER_STATUS;
            m.u.order_status = oi;
        } else {
            m.hdr.type = LX_PROTO_REJECT;
            m.u.reject = (lx_proto_reject){q->u.query_order, LX_R_UNKNOWN_ORDER};
        }
        rc = lx_proto_encode(buf, cap, &w, &m);
        break;
    }
    case LX_PROTO_QUERY_BOOK: {
        size_t nb = 0, na = 0;
        uint32_t mk = q->u.query_book.market;
        if (lx_engine_depth(n->engine, bids, &nb, asks, &na, mk, q->u.query_book.depth) == LX_OK) {
            rc = lx_proto_encode_book(buf, cap, &w, req_id, 0, mk, lx__md_l2_seq(n->md, mk), bids,
                                      nb, asks, na);
        } else {
            m.hdr.type = LX_PROTO_REJECT;
            m.u.reject = (lx_proto_reject){0, LX_R_UNKNOWN_MARKET};
            rc = lx_proto_encode(buf, cap, &w, &m);
        }
        break;
    }
    case LX_PROTO_QUERY_BALANCES: {
        static lx_proto_balance bals[LX_PROTO_LIST_MAX];
        size_t k = 0, na = lx_engine_asset_count(n->engine);
        for (uint32_t a = 0; a < na && k < LX_PROTO_LIST_MAX; a++) {
            lx_balance b;
            if (lx_engine_balance(n->engine, &b, q->u.query_balances, a) != LX_OK ||
                (b.available == 0 && b.reserved == 0))
                continue;
            memset(&bals[k], 0, sizeof bals[k]);
            snprintf(bals[k].asset, sizeof bals[k].asset, "%s",
                     lx_engine_asset_symbol(n->engine, a));
            bals[k].available = b.available;
            bals[k].reserved = b.reserved;
            k++;
        }
        rc = lx_proto_encode_balances(buf, cap, &w, req_id, 0, q->u.query_balances, bals, k);
        break;
    }
    case LX_PROTO_QUERY_MARKETS: {
        static lx_proto_market mk[LX_PROTO_LIST_MAX];
        size_t k = 0, nm = lx_engine_market_count(n->engine);
        for (uint32_t i = 0; i < nm && k < LX_PROTO_LIST_MAX; i++) {
            if (lx_engine_market_info(n->engine, &mk[k].spec, i) == LX_OK)
                mk[k++].id = i;
        }
        rc = lx_proto_encode_markets(buf, cap, &w, req_id, 0, mk, k);
        break;
    }
    default:
        break;
    }
    if (rc != LX_OK) {
        lx__reply_error(n, o, req_id, LX_PROTO_E_INTERNAL, "cannot encode the answer");
        return;
    }
    lx__reply_frames(n, o, buf, &w, 1, 1);
    uint64_t d = lx_now_us() - recv_us;
    lx__hist_add(&n->m.ack_total, d);
    lx__hist_add(&n->m.ack_interval, d);
}
