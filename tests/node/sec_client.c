/* A one-request client for the CURVE integration test (tests/node/
 * test_security.sh): connects to one node, with a CURVE key or without,
 * sends one request and prints its first reply on one line, e.g. "ACK",
 * "REJECT not_owner", "BATCH_RESULT not_owner,not_owner" or "NO_REPLY". It
 * is a helper program of that script, not a test of its own.
 *
 *   sec_client ENDPOINT SERVER_PUBKEY|- KEYFILE|- COMMAND ARGS...
 *     ping
 *     deposit ACCOUNT ASSET AMOUNT
 *     withdraw ACCOUNT ASSET AMOUNT
 *     order ID ACCOUNT buy|sell PRICE QTY         (market 0, limit GTC)
 *     batch ACCOUNT:ID[,ACCOUNT:ID...]            (buys of 1 lot at 1)
 *     cancel ID ACCOUNT
 *     replace ID ACCOUNT PRICE QTY
 *     query-order ID                              ("ORDER_STATUS account=A remaining=Q")
 *
 * Exit status: 0 a reply came, 1 none within SEC_TIMEOUT_MS (default 5000),
 * 2 bad usage. */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lx/node.h"

static int usage(void)
{
    fprintf(stderr, "usage: sec_client ENDPOINT SERVER_PUBKEY|- KEYFILE|- COMMAND ARGS...\n");
    return 2;
}

static uint64_t num(const char *s)
{
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || *end != '\0') {
        fprintf(stderr, "sec_client: \"%s\" is not a number\n", s);
        exit(2);
    }
    return (uint64_t)v;
}

/* Builds the request frame of argv[0..] into buf; 0 on bad usage. */
static int build(uint8_t *buf, size_t cap, size_t *len, int argc, char **argv)
{
    lx_proto_msg m;
    memset(&m, 0, sizeof m);
    m.hdr.req_id = 77;
    const char *cmd = argv[0];
    if (strcmp(cmd, "ping") == 0 && argc == 1) {
        m.hdr.type = LX_PROTO_PING;
    } else if ((strcmp(cmd, "deposit") == 0 || strcmp(cmd, "withdraw") == 0) && argc == 4) {
        m.hdr.type = cmd[0] == 'd' ? LX_PROTO_DEPOSIT : LX_PROTO_WITHDRAW;
        m.u.transfer.account = num(argv[1]);
        snprintf(m.u.transfer.asset, sizeof m.u.transfer.asset, "%s", argv[2]);
        m.u.transfer.amount = num(argv[3]);
    } else if (strcmp(cmd, "order") == 0 && argc == 6) {
        m.hdr.type = LX_PROTO_NEW_ORDER;
        m.u.order.id = num(argv[1]);
        m.u.order.account = num(argv[2]);
        m.u.order.side = strcmp(argv[3], "sell") == 0 ? LX_SELL : LX_BUY;
        m.u.order.price = num(argv[4]);
        m.u.order.qty = num(argv[5]);
    } else if (strcmp(cmd, "batch") == 0 && argc == 2) {
        lx_order_cmd o[LX_PROTO_BATCH_MAX];
        size_t n = 0;
        char list[1024];
        snprintf(list, sizeof list, "%s", argv[1]);
        for (char *save = NULL, *t = strtok_r(list, ",", &save); t != NULL && n < 16;
             t = strtok_r(NULL, ",", &save)) {
            char *colon = strchr(t, ':');
            if (colon == NULL)
                return 0;
            *colon = '\0';
            memset(&o[n], 0, sizeof o[n]);
            o[n].account = num(t);
            o[n].id = num(colon + 1);
            o[n].side = LX_BUY;
            o[n].price = 1;
            o[n].qty = 1;
            n++;
        }
        return n > 0 && lx_proto_encode_batch(buf, cap, len, 77, o, n) == LX_OK;
    } else if (strcmp(cmd, "cancel") == 0 && argc == 3) {
        m.hdr.type = LX_PROTO_CANCEL;
        m.u.cancel = (lx_cancel_cmd){num(argv[1]), num(argv[2])};
    } else if (strcmp(cmd, "replace") == 0 && argc == 5) {
        m.hdr.type = LX_PROTO_REPLACE;
        m.u.replace = (lx_replace_cmd){num(argv[1]), num(argv[2]), num(argv[3]), num(argv[4])};
    } else if (strcmp(cmd, "query-order") == 0 && argc == 2) {
        m.hdr.type = LX_PROTO_QUERY_ORDER;
        m.u.query_order = num(argv[1]);
    } else {
        return 0;
    }
    return lx_proto_encode(buf, cap, len, &m) == LX_OK;
}

static void print_reply(const lx_proto_msg *m)
{
    switch (m->hdr.type) {
    case LX_PROTO_REJECT:
        printf("REJECT %s\n", lx_reason_str((lx_reason)m->u.reject.reason));
        return;
    case LX_PROTO_CANCELLED:
        printf("CANCELLED %s\n", lx_reason_str((lx_reason)m->u.cancelled.reason));
        return;
    case LX_PROTO_ERROR:
        printf("ERROR %s\n", lx_proto_error_str((lx_proto_error)m->u.error.code));
        return;
    case LX_PROTO_ORDER_STATUS:
        printf("ORDER_STATUS account=%" PRIu64 " remaining=%" PRIu64 "\n",
               m->u.order_status.account, m->u.order_status.qty);
        return;
    case LX_PROTO_BATCH_RESULT:
        printf("BATCH_RESULT ");
        for (size_t i = 0; i < m->u.batch.count; i++) {
            lx_proto_batch_item it;
            if (lx_proto_batch_result_get(m, &it, i) == LX_OK)
                printf("%s%s", i ? "," : "", lx_reason_str((lx_reason)it.reason));
        }
        printf("\n");
        return;
    default:
        for (const char *p = lx_proto_type_str(m->hdr.type); *p; p++)
            putchar(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
        putchar('\n');
    }
}

int main(int argc, char **argv)
{
    if (argc < 5)
        return usage();
    uint8_t frame[LX_PROTO_FRAME_MAX];
    size_t len = 0;
    if (!build(frame, sizeof frame, &len, argc - 4, argv + 4))
        return usage();
    const char *to = getenv("SEC_TIMEOUT_MS");
    long timeout_ms = to != NULL ? (long)num(to) : 5000;

    lx_zsock_opts o;
    lx_zsock_opts_init(&o);
    o.linger_ms = 0;
    lx_curve_key server, secret;
    if (strcmp(argv[3], "-") != 0) {
        if (lx_curve_key_parse(&server, argv[2], strlen(argv[2])) != LX_OK) {
            fprintf(stderr, "sec_client: bad server key\n");
            return 2;
        }
        lx_err rc = lx_curve_keyfile_read(&secret, argv[3]);
        if (rc != LX_OK) {
            fprintf(stderr, "sec_client: %s: %s\n", argv[3], lx_strerror(rc));
            return 2;
        }
        o.curve = LX_ZCURVE_CLIENT;
        o.curve_secret = &secret;
        o.curve_server = &server;
    }
    lx_zctx *ctx = NULL;
    lx_zsock *s = NULL;
    if (lx_zctx_new(&ctx, 1) != LX_OK || lx_zsock_new(&s, ctx, LX_ZDEALER, &o) != LX_OK ||
        lx_zsock_connect(s, argv[1]) != LX_OK) {
        fprintf(stderr, "sec_client: cannot connect to %s\n", argv[1]);
        return 2;
    }
    lx_wipe(&secret, sizeof secret);
    /* The frame waits in the DEALER's queue until the handshake completes;
     * a refused handshake never completes, so nothing is sent. */
    lx_zpart part = {frame, len};
    int got = 0;
    if (lx_zsock_send(s, &part, 1, 0) == LX_OK) {
        uint64_t until = lx_now_us() + (uint64_t)timeout_ms * 1000u;
        while (!got && lx_now_us() < until) {
            lx_zpollitem it = {.sock = s, .events = LX_ZPOLLIN};
            int ready = 0;
            lx_zpoll(&ready, &it, 1, 50);
            lx_zmsg zm;
            while (!got && lx_zsock_recv(s, &zm, LX_ZDONTWAIT) == LX_OK) {
                lx_proto_msg m;
                if (zm.n == 1 &&
                    lx_proto_decode(&m, NULL, zm.part[0].data, zm.part[0].len) == LX_OK &&
                    !(m.hdr.flags & LX_PROTO_F_UNSOLICITED) && m.hdr.req_id == 77) {
                    print_reply(&m);
                    got = 1;
                }
                lx_zmsg_close(&zm);
            }
        }
    }
    if (!got)
        printf("NO_REPLY\n");
    lx_zsock_free(&s);
    lx_zctx_free(&ctx);
    return got ? 0 : 1;
}
