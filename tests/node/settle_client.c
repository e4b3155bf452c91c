/* A client for tests/node/test_settle_cluster.sh: sends one WITHDRAW or
 * QUERY_BALANCES to a node and prints the answer on one line. It is a helper
 * program of that script, not a test of its own.
 *
 *   settle_client ENDPOINT withdraw ACCOUNT ASSET AMOUNT DEST
 *       prints "ack <seq>", "reject <reason>" or "error <code> <text>"
 *   settle_client ENDPOINT balance ACCOUNT ASSET
 *       prints "<available> <reserved>" (0 0 when the account holds none)
 *
 * Exit status: 0 an answer came, 1 none within 10 s, 2 bad usage. */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lx/node.h"

static int parse_u64(uint64_t *out, const char *s)
{
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end || s[0] == '-')
        return 0;
    *out = v;
    return 1;
}

static int usage(void)
{
    fprintf(stderr, "usage: settle_client ENDPOINT withdraw ACCOUNT ASSET AMOUNT DEST\n"
                    "       settle_client ENDPOINT balance ACCOUNT ASSET\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 5)
        return usage();
    int withdraw = strcmp(argv[2], "withdraw") == 0;
    if ((withdraw && argc != 7) || (!withdraw && (strcmp(argv[2], "balance") != 0 || argc != 5)))
        return usage();
    lx_proto_msg m;
    memset(&m, 0, sizeof m);
    m.hdr.req_id = 1;
    uint64_t account, amount = 0;
    if (!parse_u64(&account, argv[3]) || strlen(argv[4]) >= LX_SYMBOL_MAX ||
        (withdraw && (!parse_u64(&amount, argv[5]) || strlen(argv[6]) > LX_PROTO_ADDR_MAX)))
        return usage();
    if (withdraw) {
        m.hdr.type = LX_PROTO_WITHDRAW;
        m.u.transfer.account = account;
        m.u.transfer.amount = amount;
        snprintf(m.u.transfer.asset, sizeof m.u.transfer.asset, "%s", argv[4]);
        m.u.transfer.dest_len = (uint8_t)strlen(argv[6]);
        memcpy(m.u.transfer.dest, argv[6], m.u.transfer.dest_len);
    } else {
        m.hdr.type = LX_PROTO_QUERY_BALANCES;
        m.u.query_balances = account;
    }
    uint8_t buf[LX_PROTO_FRAME_MAX];
    size_t w;
    lx_zctx *ctx = NULL;
    lx_zsock *s = NULL;
    if (lx_proto_encode(buf, sizeof buf, &w, &m) != LX_OK || lx_zctx_new(&ctx, 1) != LX_OK ||
        lx_zsock_new(&s, ctx, LX_ZDEALER, NULL) != LX_OK || lx_zsock_connect(s, argv[1]) != LX_OK)
        return usage();
    lx_zpart p = {buf, w};
    int rc = 1;
    if (lx_zsock_send(s, &p, 1, 0) == LX_OK) {
        lx_zpollitem it = {s, 0, LX_ZPOLLIN, 0};
        int ready = 0;
        lx_zmsg zm;
        lx_proto_msg r;
        if (lx_zpoll(&ready, &it, 1, 10000) == LX_OK && ready &&
            lx_zsock_recv(s, &zm, 0) == LX_OK) {
            if (lx_proto_decode(&r, NULL, zm.part[0].data, zm.part[0].len) == LX_OK) {
                rc = 0;
                if (r.hdr.type == LX_PROTO_ACK) {
                    printf("ack %" PRIu64 "\n", r.u.ack.seq);
                } else if (r.hdr.type == LX_PROTO_REJECT) {
                    printf("reject %u\n", r.u.reject.reason);
                } else if (r.hdr.type == LX_PROTO_ERROR) {
                    printf("error %u %.*s\n", r.u.error.code, r.u.error.text_len, r.u.error.text);
                } else if (r.hdr.type == LX_PROTO_BALANCES) {
                    uint64_t avail = 0, reserved = 0;
                    for (size_t i = 0; i < r.u.balances.count; i++) {
                        lx_proto_balance b;
                        if (lx_proto_balances_get(&r, &b, i) == LX_OK &&
                            strcmp(b.asset, argv[4]) == 0) {
                            avail = b.available;
                            reserved = b.reserved;
                        }
                    }
                    printf("%" PRIu64 " %" PRIu64 "\n", avail, reserved);
                } else {
                    printf("other %u\n", r.hdr.type);
                }
            }
            lx_zmsg_close(&zm);
        }
    }
    lx_zsock_free(&s);
    lx_zctx_free(&ctx);
    return rc;
}
