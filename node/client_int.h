/* The load client's state (node/client.c), shared with the malformed-frame
 * check (node/client_check.c). */
#ifndef LX_CLIENT_INT_H
#define LX_CLIENT_INT_H

#include <stdint.h>
#include <stdio.h>

#include "lx/node.h"

typedef struct node {
    lx_zsock *s;
    int ready, leader;
    uint64_t pong_seq;
} node;

typedef struct cancel_mark {
    uint64_t id, account;
} cancel_mark;

typedef struct deposit {
    uint64_t account, amount;
    char asset[LX_SYMBOL_MAX];
    uint8_t state;    /* 0 to send, 1 in flight, 2 acked, 3 refused */
    uint64_t sent_ns; /* the last send */
} deposit;

typedef struct withdrawal {
    uint64_t account, amount;
    uint64_t due_ns; /* waiting: when it is sent again; 0: in flight or free */
    size_t next_free;
    unsigned tries;
    int used;
    char asset[LX_SYMBOL_MAX];
    char dest[LX_PROTO_ADDR_MAX + 1];
} withdrawal;

struct lx_client {
    lx_client_opts o;
    lx_zctx *ctx;
    node nodes[LX_CLIENT_NODES_MAX];
    size_t nn;
    lx_inflight *fl;
    int tfd; /* timerfd for waits, or -1 */
    lx_hist *hist;
    lx_hist *hist_recent; /* since lx_client_hist_recent_reset */
    FILE *acked_log;

    lx_client_load load;
    lx_ordergen *gen;
    cancel_mark *marks;
    uint64_t start_ns;

    lx_proto_market markets[LX_PROTO_LIST_MAX];
    size_t nmarkets;
    int have_markets;

    /* withdrawals in flight or waiting to be sent again; a frame's aux is
     * its index, and free slots are chained through next_free */
    withdrawal *wds;
    size_t nwds, wds_cap, wd_free, wd_waiting;
    uint64_t wd_next_due; /* the earliest due_ns of those waiting */

    deposit *deps;
    size_t ndeps, deps_acked;
    size_t deps_todo, deps_inflight; /* deposits in state 0 and 1 */
    size_t deps_failed;              /* refused: only the first is printed */
    int fund_failed;

    lx_client_stats st;
    uint8_t buf[LX_MALFORMED_MAX];
};

/* Whether the caller's stop flag is up. */
int lx__client_stopped(const lx_client *c);
/* Sends one frame to node node_i without waiting; 0 (counted) if it could
 * not be queued. */
int lx__client_send_frame(lx_client *c, size_t node_i, const uint8_t *b, size_t len);

#endif
