/* Tests for the queue of requests forwarded by peers whose link is not known
 * yet (node/park.c): a peer's requests come back whole and in arrival order,
 * other peers' stay, what waits too long or would pass the byte cap is
 * dropped and counted, and the queue's byte count returns to zero. Then a
 * real leader (lx__node_run in a thread) and a fake follower on loopback:
 * a FORWARD sent before the follower answered the leader's HELLO is held,
 * and answered once the HELLO_ACK names the link. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../node/node_int.h"
#include "test_fs.h"
#include "test_net.h"

static lx__node *node_new(void)
{
    lx__node *n = calloc(1, sizeof *n);
    assert_non_null(n);
    snprintf(n->cfg.node_id, sizeof n->cfg.node_id, "node0");
    return n;
}

/* A FORWARD from `from` with token `token` and a frame of `len` bytes, each
 * the token's low byte. */
static void forward(lx__peer_msg *m, uint8_t *frame, const char *from, uint64_t token, uint32_t len)
{
    static const uint8_t rid[5] = {0, 1, 2, 3, 4};
    memset(m, 0, sizeof *m);
    m->type = LX__P_FORWARD;
    snprintf(m->from, sizeof m->from, "%s", from);
    m->u.forward.token = token;
    m->u.forward.term = 7;
    m->u.forward.rid_len = sizeof rid;
    m->u.forward.rid = rid;
    memset(frame, (int)(token & 0xff), len);
    m->u.forward.frame = frame;
    m->u.forward.frame_len = len;
}

static void park(lx__node *n, const char *from, uint64_t token, uint32_t len, uint64_t now)
{
    uint8_t *frame = malloc(len);
    assert_non_null(frame);
    lx__peer_msg m;
    forward(&m, frame, from, token, len);
    lx__park_forward(n, &m, now);
    free(frame);
}

/* What lx__park_replay handed over: each request checked whole (the frame
 * bytes are the token's low byte), its token kept in order. */
static struct {
    const char *from; /* the peer all of them must come from */
    uint64_t tokens[4096];
    size_t n;
} seen;

static void collect(lx__node *n, const lx__peer_msg *m, int slot)
{
    (void)n;
    assert_int_equal(slot, 3);
    assert_true(seen.n < sizeof seen.tokens / sizeof seen.tokens[0]);
    assert_int_equal(m->type, LX__P_FORWARD);
    assert_string_equal(m->from, seen.from);
    assert_int_equal(m->u.forward.term, 7);
    assert_int_equal(m->u.forward.rid_len, 5);
    assert_int_equal(m->u.forward.rid[4], 4);
    assert_true(m->u.forward.frame_len > 0);
    for (uint32_t i = 0; i < m->u.forward.frame_len; i++)
        assert_int_equal(m->u.forward.frame[i], m->u.forward.token & 0xff);
    seen.tokens[seen.n++] = m->u.forward.token;
}

/* Replays from's requests and checks they are tokens want[0..nwant), all
 * from `from`. */
static void expect_taken(lx__node *n, const char *from, const uint64_t *want, size_t nwant)
{
    seen.n = 0;
    seen.from = from;
    lx__park_replay(n, from, 3, collect);
    assert_int_equal(seen.n, nwant);
    for (size_t i = 0; i < nwant; i++)
        assert_int_equal(seen.tokens[i], want[i]);
}

static void test_taken_in_order_per_peer(void **state)
{
    (void)state;
    lx__node *n = node_new();
    park(n, "node1", 1, 40, 100);
    park(n, "node2", 2, 80, 110);
    park(n, "node1", 3, 12, 120);
    park(n, "node2", 4, 300, 130);
    park(n, "node1", 5, 1, 140);
    assert_int_equal(n->parked, 5);
    assert_int_equal(n->park_dropped, 0);

    const uint64_t one[] = {1, 3, 5};
    expect_taken(n, "node1", one, 3);
    expect_taken(n, "node1", NULL, 0); /* nothing twice */
    assert_true(n->park_bytes > 0);    /* node2's are still there */

    /* After taking, the queue still appends behind node2's requests. */
    park(n, "node2", 6, 16, 150);
    const uint64_t two[] = {2, 4, 6};
    expect_taken(n, "node2", two, 3);
    assert_int_equal(n->park_bytes, 0);
    assert_null(n->park_head);
    assert_null(n->park_tail);
    lx__park_free(n);
    free(n);
}

static void test_expired_dropped(void **state)
{
    (void)state;
    lx__node *n = node_new();
    park(n, "node1", 1, 10, 1000);
    park(n, "node1", 2, 10, 2000);
    park(n, "node2", 3, 10, 1000 + LX__PARK_US);
    lx__park_tick(n, 1000 + LX__PARK_US); /* none older than the limit yet */
    assert_int_equal(n->park_dropped, 0);
    lx__park_tick(n, 1500 + LX__PARK_US); /* token 1 only */
    assert_int_equal(n->park_dropped, 1);
    const uint64_t one[] = {2};
    expect_taken(n, "node1", one, 1);
    lx__park_tick(n, 5000 + 2 * LX__PARK_US); /* token 3 */
    assert_int_equal(n->park_dropped, 2);
    assert_null(n->park_head);
    assert_null(n->park_tail);
    assert_int_equal(n->park_bytes, 0);
    lx__park_free(n);
    free(n);
}

static void test_byte_cap(void **state)
{
    (void)state;
    lx__node *n = node_new();
    /* Frames of the largest size until the cap refuses one. */
    uint64_t token = 0;
    while (n->park_dropped == 0) {
        assert_true(token < 2 * LX__PARK_BYTES / LX_PROTO_FRAME_MAX + 2);
        park(n, "node1", ++token, LX_PROTO_FRAME_MAX, 10);
    }
    assert_true(n->park_bytes <= LX__PARK_BYTES);
    assert_true(n->park_bytes + LX_PROTO_FRAME_MAX > LX__PARK_BYTES - 1024);
    assert_int_equal(n->parked, token - 1);
    /* What was kept is whole; the refused one is not among it. */
    seen.n = 0;
    seen.from = "node1";
    lx__park_replay(n, "node1", 3, collect);
    assert_int_equal(seen.n, token - 1);
    for (size_t i = 0; i < seen.n; i++)
        assert_int_equal(seen.tokens[i], i + 1);
    assert_int_equal(n->park_bytes, 0);
    /* Room again. */
    park(n, "node1", 99, 10, 20);
    assert_int_equal(n->parked, token);
    lx__park_free(n);
    assert_int_equal(n->park_bytes, 0);
    assert_null(n->park_head);
    free(n);
}

static int port_free(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* A base port from `first` with it and the next three free. */
static int free_base(int first)
{
    for (int p = first; p < first + 400; p += 10)
        if (port_free(p) && port_free(p + 1) && port_free(p + 2) && port_free(p + 3))
            return p;
    fail_msg("no free base port");
    return -1;
}

static const char *no_env(const char *name)
{
    (void)name;
    return NULL;
}

typedef struct leader {
    lx__config cfg;
    volatile int stop;
    int code;
    lx_err rc;
} leader;

static void *run_leader(void *arg)
{
    leader *l = arg;
    l->rc = lx__node_run(&l->cfg, &l->stop, &l->code);
    return NULL;
}

static void send_peer(lx_zsock *s, const lx__peer_msg *m)
{
    uint8_t buf[4096];
    size_t w;
    assert_int_equal(lx__peer_encode(buf, sizeof buf, &w, m), LX_OK);
    lx_zpart p = {buf, w};
    assert_int_equal(lx_zsock_send(s, &p, 1, 0), LX_OK);
}

/* The next peer message of `type` on the fake's inbox within timeout_ms, into
 * *out (its bytes in *zm, which the caller closes); 0 if none came. */
static int recv_type(lx_zsock *inbox, lx_zmsg *zm, lx__peer_msg *out, uint8_t type, int timeout_ms)
{
    uint64_t end = lx_now_us() + (uint64_t)timeout_ms * 1000;
    while (lx_now_us() < end) {
        if (lx_zsock_recv(inbox, zm, LX_ZDONTWAIT) != LX_OK) {
            usleep(2000);
            continue;
        }
        if (zm->n == 1 && lx__peer_decode(out, zm->part[0].data, zm->part[0].len) == LX_OK &&
            out->type == type)
            return 1;
        lx_zmsg_close(zm);
    }
    return 0;
}

static void test_leader_holds_until_link_known(void **state)
{
    (void)state;
    char dir[64];
    lx_test_tmpdir(dir, sizeof dir, "lx-test-park");
    int fake = free_base(47810);
    int base = free_base(fake + 10);
    char port[16], peers[64], data[128];
    snprintf(port, sizeof port, "%d", base);
    snprintf(peers, sizeof peers, "tcp://127.0.0.1:%d", fake);
    snprintf(data, sizeof data, "%s/node0", dir);
    char *argv[] = {"multi-node",   "--node",
                    "node0",        "--port",
                    port,           "--peers",
                    peers,          "--leader",
                    "--dev-faucet", "--ack-quorum",
                    "local",        "--fsync",
                    "off",          "--data-dir",
                    data,           "--metrics-interval",
                    "600s",         NULL};
    static leader l;
    memset(&l, 0, sizeof l);
    char err[256];
    assert_int_equal(lx__config_parse(&l.cfg, err, sizeof err,
                                      (int)(sizeof argv / sizeof *argv) - 1, argv, no_env),
                     LX_OK);

    /* The fake follower node1: its inbox (base + 3) and a link to the
     * leader's inbox. */
    lx_zctx *ctx = NULL;
    assert_int_equal(lx_zctx_new(&ctx, 1), LX_OK);
    lx_zsock_opts o;
    lx_zsock_opts_init(&o);
    lx_zsock *inbox = NULL, *link = NULL;
    assert_int_equal(lx_zsock_new(&inbox, ctx, LX_ZDEALER, &o), LX_OK);
    assert_int_equal(lx_zsock_new(&link, ctx, LX_ZDEALER, &o), LX_OK);
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", fake + 3);
    assert_int_equal(lx_zsock_bind(inbox, ep), LX_OK);
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", base + 3);
    assert_int_equal(lx_zsock_connect(link, ep), LX_OK);

    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, run_leader, &l), 0);

    /* The leader greets node1 on its link: slot 0. Not answered yet. */
    lx_zmsg zm;
    lx__peer_msg m;
    assert_true(recv_type(inbox, &zm, &m, LX__P_HELLO, 10000));
    assert_string_equal(m.from, "node0");
    assert_memory_equal(m.cluster, l.cfg.cluster_tag, LX__CLUSTER_TAG_LEN);
    uint32_t slot = m.u.hello.slot;
    assert_int_equal(slot, 0);
    lx_zmsg_close(&zm);

    /* A DEPOSIT forwarded before the leader knows node1's link. */
    lx_proto_msg d;
    memset(&d, 0, sizeof d);
    d.hdr.type = LX_PROTO_DEPOSIT;
    d.hdr.req_id = 42;
    d.u.transfer.account = 7;
    d.u.transfer.amount = 1000;
    snprintf(d.u.transfer.asset, sizeof d.u.transfer.asset, "USD");
    uint8_t frame[256];
    size_t flen;
    assert_int_equal(lx_proto_encode(frame, sizeof frame, &flen, &d), LX_OK);
    static const uint8_t rid[5] = {9, 8, 7, 6, 5};
    lx__peer_msg f;
    memset(&f, 0, sizeof f);
    f.type = LX__P_FORWARD;
    memcpy(f.cluster, l.cfg.cluster_tag, LX__CLUSTER_TAG_LEN);
    snprintf(f.from, sizeof f.from, "node1");
    f.u.forward.token = 77;
    f.u.forward.term = 1; /* a fresh --leader runs term 1 */
    f.u.forward.rid_len = sizeof rid;
    f.u.forward.rid = rid;
    f.u.forward.frame = frame;
    f.u.forward.frame_len = (uint32_t)flen;
    send_peer(link, &f);

    /* Held: no answer while node1 has not answered the HELLO. */
    assert_false(recv_type(inbox, &zm, &m, LX__P_RESULT, 300));

    /* A HELLO_ACK from a node1 of another cluster is refused: still held. */
    lx__peer_msg ack;
    memset(&ack, 0, sizeof ack);
    ack.type = LX__P_HELLO_ACK;
    assert_int_equal(lx__cluster_tag(ack.cluster, "another", "leader"), LX_OK);
    snprintf(ack.from, sizeof ack.from, "node1");
    snprintf(ack.u.hello_ack.to, sizeof ack.u.hello_ack.to, "node0");
    ack.u.hello_ack.slot = slot;
    send_peer(link, &ack);
    assert_false(recv_type(inbox, &zm, &m, LX__P_RESULT, 300));

    memcpy(ack.cluster, l.cfg.cluster_tag, LX__CLUSTER_TAG_LEN);
    send_peer(link, &ack);

    /* Now answered, over the link: an ACK of request 42 for the fake's
     * client. */
    assert_true(recv_type(inbox, &zm, &m, LX__P_RESULT, 10000));
    assert_int_equal(m.u.result.token, 77);
    assert_int_equal(m.u.result.rid_len, sizeof rid);
    assert_memory_equal(m.u.result.rid, rid, sizeof rid);
    size_t off = 0;
    const uint8_t *p;
    size_t plen;
    assert_true(lx__peer_list_next(m.u.result.list, m.u.result.list_len, &off, &p, &plen));
    lx_proto_msg r;
    assert_int_equal(lx_proto_decode(&r, NULL, p, plen), LX_OK);
    assert_int_equal(r.hdr.type, LX_PROTO_ACK);
    assert_int_equal(r.hdr.req_id, 42);
    lx_zmsg_close(&zm);

    l.stop = 1;
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(l.rc, LX_OK);
    lx_zsock_free(&inbox);
    lx_zsock_free(&link);
    lx_zctx_free(&ctx);
    assert_int_equal(lx_test_rm_rf(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_taken_in_order_per_peer),
        cmocka_unit_test(test_expired_dropped),
        cmocka_unit_test(test_byte_cap),
        cmocka_unit_test(test_leader_holds_until_link_known),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
