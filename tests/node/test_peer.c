/* Tests for the node-to-node messages: peer messages over base+3 (every type
 * round-trips; truncated, padded, mislabelled and oversized input is
 * refused) and the replication stream's heartbeat and block messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../node/node_int.h"

static uint8_t buf[1 << 16];
static const uint8_t tag[LX__CLUSTER_TAG_LEN] = {0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8};

static lx__peer_msg base_msg(uint8_t type)
{
    lx__peer_msg m;
    memset(&m, 0, sizeof m);
    m.type = type;
    memcpy(m.cluster, tag, sizeof tag);
    snprintf(m.from, sizeof m.from, "node1");
    return m;
}

/* Every proper prefix and every one-byte extension of a valid message is
 * refused. */
static void check_strict(const uint8_t *p, size_t len)
{
    lx__peer_msg out;
    for (size_t i = 0; i < len; i++)
        assert_int_not_equal(lx__peer_decode(&out, p, i), LX_OK);
    uint8_t *longer = malloc(len + 1);
    assert_non_null(longer);
    memcpy(longer, p, len);
    longer[len] = 0;
    assert_int_equal(lx__peer_decode(&out, longer, len + 1), LX_EFORMAT);
    free(longer);
}

static size_t encode(const lx__peer_msg *m)
{
    size_t w = 0;
    assert_int_equal(lx__peer_encode(buf, sizeof buf, &w, m), LX_OK);
    check_strict(buf, w);
    return w;
}

static void test_hello(void **state)
{
    (void)state;
    lx__peer_msg m = base_msg(LX__P_HELLO), out;
    m.u.hello.slot = 3;
    size_t w = encode(&m);
    /* magic, version, type, cluster tag, id_len, "node1", slot */
    static const uint8_t want[] = {0x4c, 0x50, 2,   1,   0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7,
                                   0xc8, 5,    'n', 'o', 'd',  'e',  '1',  0,    0,    0,    3};
    assert_int_equal(w, sizeof want);
    assert_memory_equal(buf, want, sizeof want);
    assert_int_equal(lx__peer_decode(&out, buf, w), LX_OK);
    assert_memory_equal(out.cluster, tag, sizeof tag);
    assert_int_equal(out.type, LX__P_HELLO);
    assert_string_equal(out.from, "node1");
    assert_int_equal(out.u.hello.slot, 3);

    m = base_msg(LX__P_HELLO_ACK);
    snprintf(m.u.hello_ack.to, sizeof m.u.hello_ack.to, "node-0.a_b");
    m.u.hello_ack.slot = 1;
    w = encode(&m);
    assert_int_equal(lx__peer_decode(&out, buf, w), LX_OK);
    assert_string_equal(out.u.hello_ack.to, "node-0.a_b");
    assert_int_equal(out.u.hello_ack.slot, 1);
}

static void test_forward(void **state)
{
    (void)state;
    uint8_t rid[5] = {0, 1, 2, 3, 4};
    uint8_t frame[59];
    memset(frame, 0xAB, sizeof frame);
    lx__peer_msg m = base_msg(LX__P_FORWARD), out;
    m.u.forward.token = 0x0102030405060708ull;
    m.u.forward.term = 7;
    m.u.forward.rid_len = sizeof rid;
    m.u.forward.rid = rid;
    m.u.forward.frame = frame;
    m.u.forward.frame_len = sizeof frame;
    size_t w = encode(&m);
    assert_int_equal(lx__peer_decode(&out, buf, w), LX_OK);
    assert_int_equal(out.u.forward.token, 0x0102030405060708ull);
    assert_int_equal(out.u.forward.term, 7);
    assert_int_equal(out.u.forward.rid_len, 5);
    assert_memory_equal(out.u.forward.rid, rid, 5);
    assert_int_equal(out.u.forward.frame_len, sizeof frame);
    assert_memory_equal(out.u.forward.frame, frame, sizeof frame);

    /* Token 0, an empty routing id and an empty or oversized frame are
     * refused both ways. */
    lx__peer_msg bad = m;
    bad.u.forward.token = 0;
    assert_int_equal(lx__peer_encode(buf, sizeof buf, &w, &bad), LX_EINVAL);
    bad = m;
    bad.u.forward.rid_len = 0;
    assert_int_equal(lx__peer_encode(buf, sizeof buf, &w, &bad), LX_EINVAL);
    bad = m;
    bad.u.forward.frame_len = LX_PROTO_FRAME_MAX + 1;
    assert_int_equal(lx__peer_encode(buf, sizeof buf, &w, &bad), LX_EINVAL);
    w = encode(&m);
    memset(buf + 10, 0, 8); /* the token, after magic, version, type and "node1" */
    assert_int_equal(lx__peer_decode(&out, buf, w), LX_EFORMAT);
}

static void test_result(void **state)
{
    (void)state;
    uint8_t rid[3] = {9, 9, 9};
    uint8_t list[256];
    size_t off = 0;
    uint8_t f1[18] = {0x4c, 0x58, 1, 0x8b};
    uint8_t f2[30];
    memset(f2, 7, sizeof f2);
    assert_int_equal(lx__peer_list_put(list, sizeof list, &off, f1, sizeof f1), LX_OK);
    assert_int_equal(lx__peer_list_put(list, sizeof list, &off, f2, sizeof f2), LX_OK);
    assert_int_equal(lx__peer_list_put(list, 10, &off, f2, sizeof f2), LX_ETOOBIG);
    lx__peer_msg m = base_msg(LX__P_RESULT), out;
    m.u.result.token = 0; /* unsolicited */
    m.u.result.last = 1;
    m.u.result.rid_len = 3;
    m.u.result.rid = rid;
    m.u.result.count = 2;
    m.u.result.list = list;
    m.u.result.list_len = off;
    size_t w = encode(&m);
    assert_int_equal(lx__peer_decode(&out, buf, w), LX_OK);
    assert_int_equal(out.u.result.count, 2);
    assert_int_equal(out.u.result.last, 1);
    m.u.result.last = 1 | LX__RESULT_BUNDLE;
    w = encode(&m);
    assert_int_equal(lx__peer_decode(&out, buf, w), LX_OK);
    assert_int_equal(out.u.result.last, 1 | LX__RESULT_BUNDLE);
    size_t o = 0, len;
    const uint8_t *p;
    assert_true(lx__peer_list_next(out.u.result.list, out.u.result.list_len, &o, &p, &len));
    assert_int_equal(len, sizeof f1);
    assert_memory_equal(p, f1, sizeof f1);
    assert_true(lx__peer_list_next(out.u.result.list, out.u.result.list_len, &o, &p, &len));
    assert_int_equal(len, sizeof f2);
    assert_false(lx__peer_list_next(out.u.result.list, out.u.result.list_len, &o, &p, &len));

    /* A count that does not match the list, a frame shorter than a header,
     * and last > 1 are malformed. */
    m.u.result.count = 3;
    assert_int_equal(lx__peer_encode(buf, sizeof buf, &w, &m), LX_OK);
    assert_int_equal(lx__peer_decode(&out, buf, w), LX_EFORMAT);
    m.u.result.count = 1;
    assert_int_equal(lx__peer_encode(buf, sizeof buf, &w, &m), LX_OK);
    assert_int_equal(lx__peer_decode(&out, buf, w), LX_EFORMAT);
    off = 0;
    assert_int_equal(lx__peer_list_put(list, sizeof list, &off, f1, 17), LX_OK);
    m.u.result.list_len = off;
    assert_int_equal(lx__peer_encode(buf, sizeof buf, &w, &m), LX_OK);
    assert_int_equal(lx__peer_decode(&out, buf, w), LX_EFORMAT);
    m.u.result.last = 4; /* bits 0 (last) and 1 (bundle) only */
    assert_int_equal(lx__peer_encode(buf, sizeof buf, &w, &m), LX_EINVAL);
}

static void test_gap(void **state)
{
    (void)state;
    lx__peer_msg m = base_msg(LX__P_GAP_REQ), out;
    m.u.gap_req.from_seq = 5;
    m.u.gap_req.to_seq = 9;
    size_t w = encode(&m);
    assert_int_equal(lx__peer_decode(&out, buf, w), LX_OK);
    assert_int_equal(out.u.gap_req.from_seq, 5);
    assert_int_equal(out.u.gap_req.to_seq, 9);
    m.u.gap_req.to_seq = 4;
    assert_int_equal(lx__peer_encode(buf, sizeof buf, &w, &m), LX_EINVAL);
    m.u.gap_req.from_seq = 0;
    assert_int_equal(lx__peer_encode(buf, sizeof buf, &w, &m), LX_EINVAL);

    /* A real block in a gap response. */
    lx_entry e;
    memset(&e, 0, sizeof e);
    e.cmd.type = LX_CMD_CANCEL;
    e.cmd.u.cancel = (lx_cancel_cmd){1, 2};
    lx_block_hdr h = {1, 1, 0, 1, 1};
    uint8_t blk[128], list[256];
    size_t blen, off = 0;
    assert_int_equal(lx_block_encode(blk, sizeof blk, &blen, &h, &e, 1), LX_OK);
    assert_int_equal(lx__peer_list_put(list, sizeof list, &off, blk, blen), LX_OK);
    m = base_msg(LX__P_GAP_RESP);
    m.u.gap_resp.leader_last = 77;
    m.u.gap_resp.count = 1;
    m.u.gap_resp.list = list;
    m.u.gap_resp.list_len = off;
    w = encode(&m);
    assert_int_equal(lx__peer_decode(&out, buf, w), LX_OK);
    assert_int_equal(out.u.gap_resp.leader_last, 77);
    size_t o = 0, len;
    const uint8_t *p;
    assert_true(lx__peer_list_next(out.u.gap_resp.list, out.u.gap_resp.list_len, &o, &p, &len));
    assert_int_equal(len, blen);
    assert_memory_equal(p, blk, blen);
    /* An empty response (the follower is up to date) is fine. */
    m.u.gap_resp.count = 0;
    m.u.gap_resp.list_len = 0;
    w = encode(&m);
    assert_int_equal(lx__peer_decode(&out, buf, w), LX_OK);
    /* A "block" shorter than a block header is not. */
    off = 0;
    assert_int_equal(lx__peer_list_put(list, sizeof list, &off, blk, LX_BLOCK_HDR_LEN - 1), LX_OK);
    m.u.gap_resp.count = 1;
    m.u.gap_resp.list_len = off;
    assert_int_equal(lx__peer_encode(buf, sizeof buf, &w, &m), LX_OK);
    assert_int_equal(lx__peer_decode(&out, buf, w), LX_EFORMAT);
}

/* SETTLE_REQ and SETTLE_SIG: round trips, exact sizes, and refused signer
 * sets (empty, unordered, repeated, out of range) and batch number 0. */
static void test_settle(void **state)
{
    (void)state;
    uint8_t bh[32], th[32], signer[20], sig[65];
    memset(bh, 0xB1, sizeof bh);
    memset(th, 0x7A, sizeof th);
    memset(signer, 0x5E, sizeof signer);
    memset(sig, 0x51, sizeof sig);
    lx__peer_msg m = base_msg(LX__P_SETTLE_REQ), out;
    m.u.settle_req.number = 12;
    m.u.settle_req.batch_hash = bh;
    m.u.settle_req.tx_hash = th;
    m.u.settle_req.nsigners = 2;
    m.u.settle_req.signers[0] = 0;
    m.u.settle_req.signers[1] = 2;
    size_t w = encode(&m);
    assert_int_equal(w, 4 + 8 + 1 + 5 + 8 + 32 + 32 + 1 + 2 * 4);
    assert_int_equal(lx__peer_decode(&out, buf, w), LX_OK);
    assert_int_equal(out.type, LX__P_SETTLE_REQ);
    assert_int_equal(out.u.settle_req.number, 12);
    assert_memory_equal(out.u.settle_req.batch_hash, bh, 32);
    assert_memory_equal(out.u.settle_req.tx_hash, th, 32);
    assert_int_equal(out.u.settle_req.nsigners, 2);
    assert_int_equal(out.u.settle_req.signers[1], 2);
    /* the last signer position is a u32 at the end: make it repeat the first */
    buf[w - 1] = 0;
    assert_int_equal(lx__peer_decode(&out, buf, w), LX_EFORMAT);
    buf[w - 1] = 64; /* past the 64 owners a channel can have */
    assert_int_equal(lx__peer_decode(&out, buf, w), LX_EFORMAT);
    m.u.settle_req.signers[1] = 0;
    assert_int_equal(lx__peer_encode(buf, sizeof buf, &w, &m), LX_EINVAL);
    m.u.settle_req.signers[1] = 2;
    m.u.settle_req.nsigners = 0;
    assert_int_equal(lx__peer_encode(buf, sizeof buf, &w, &m), LX_EINVAL);
    m.u.settle_req.nsigners = 2;
    m.u.settle_req.number = 0;
    assert_int_equal(lx__peer_encode(buf, sizeof buf, &w, &m), LX_EINVAL);

    m = base_msg(LX__P_SETTLE_SIG);
    m.u.settle_sig.number = 12;
    m.u.settle_sig.batch_hash = bh;
    m.u.settle_sig.tx_hash = th;
    m.u.settle_sig.signer = signer;
    m.u.settle_sig.sig = sig;
    w = encode(&m);
    assert_int_equal(w, 4 + 8 + 1 + 5 + 8 + 32 + 32 + 20 + 65);
    assert_int_equal(lx__peer_decode(&out, buf, w), LX_OK);
    assert_int_equal(out.u.settle_sig.number, 12);
    assert_memory_equal(out.u.settle_sig.signer, signer, 20);
    assert_memory_equal(out.u.settle_sig.sig, sig, 65);
    assert_memory_equal(out.u.settle_sig.tx_hash, th, 32);
    m.u.settle_sig.sig = NULL;
    assert_int_equal(lx__peer_encode(buf, sizeof buf, &w, &m), LX_EINVAL);
}

/* SNAP_REQ and SNAP_PART: round trips, exact sizes, the "none" part, a
 * part of the largest size, and parts whose fields disagree refused on both
 * sides. */
static void test_snap(void **state)
{
    (void)state;
    lx__peer_msg m = base_msg(LX__P_SNAP_REQ), out;
    size_t w = encode(&m);
    assert_int_equal(w, 4 + 8 + 1 + 5 + 8 + 8);
    assert_int_equal(lx__peer_decode(&out, buf, w), LX_OK);
    assert_int_equal(out.type, LX__P_SNAP_REQ);
    assert_int_equal(out.u.snap_req.seq, 0);
    m.u.snap_req.seq = 250;
    m.u.snap_req.offset = 65536;
    w = encode(&m);
    assert_int_equal(lx__peer_decode(&out, buf, w), LX_OK);
    assert_int_equal(out.u.snap_req.seq, 250);
    assert_int_equal(out.u.snap_req.offset, 65536);
    /* an offset into "the newest", whichever that is, means nothing */
    buf[18 + 7] = 0;
    assert_int_equal(lx__peer_decode(&out, buf, w), LX_EFORMAT);
    m.u.snap_req.seq = 0;
    assert_int_equal(lx__peer_encode(buf, sizeof buf, &w, &m), LX_EINVAL);

    uint8_t sh[LX_STATE_HASH_LEN], ah[LX_STATE_HASH_LEN], data[300];
    memset(sh, 0x5A, sizeof sh);
    memset(ah, 0xA5, sizeof ah);
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)i;
    m = base_msg(LX__P_SNAP_PART);
    m.u.snap_part.seq = 250;
    m.u.snap_part.next_index = 9001;
    m.u.snap_part.state_hash = sh;
    m.u.snap_part.announced = 1;
    m.u.snap_part.announced_hash = ah;
    m.u.snap_part.total = 1000;
    m.u.snap_part.settle_len = 400;
    m.u.snap_part.crc = 0xDEADBEEF;
    m.u.snap_part.offset = 700;
    m.u.snap_part.data = data;
    m.u.snap_part.data_len = sizeof data;
    w = encode(&m);
    assert_int_equal(w, 4 + 8 + 1 + 5 + 8 + 8 + 32 + 1 + 32 + 8 + 8 + 4 + 8 + 4 + sizeof data);
    assert_int_equal(lx__peer_decode(&out, buf, w), LX_OK);
    assert_int_equal(out.type, LX__P_SNAP_PART);
    assert_int_equal(out.u.snap_part.seq, 250);
    assert_int_equal(out.u.snap_part.next_index, 9001);
    assert_memory_equal(out.u.snap_part.state_hash, sh, sizeof sh);
    assert_int_equal(out.u.snap_part.announced, 1);
    assert_memory_equal(out.u.snap_part.announced_hash, ah, sizeof ah);
    assert_int_equal(out.u.snap_part.total, 1000);
    assert_int_equal(out.u.snap_part.settle_len, 400);
    assert_int_equal(out.u.snap_part.crc, 0xDEADBEEF);
    assert_int_equal(out.u.snap_part.offset, 700);
    assert_int_equal(out.u.snap_part.data_len, sizeof data);
    assert_memory_equal(out.u.snap_part.data, data, sizeof data);

    /* Decoding refuses: an announced flag other than 0 or 1, a part that
     * runs past the total (total 999), an empty part, a settlement section
     * as long as the total (nothing left for the engine). */
    uint8_t c[512];
    memcpy(c, buf, w);
    c[66] = 2;
    assert_int_equal(lx__peer_decode(&out, c, w), LX_EFORMAT);
    memcpy(c, buf, w);
    c[106] = 0xE7;
    assert_int_equal(lx__peer_decode(&out, c, w), LX_EFORMAT);
    memcpy(c, buf, w);
    memset(c + 127, 0, 4);
    assert_int_equal(lx__peer_decode(&out, c, 131), LX_EFORMAT);
    memcpy(c, buf, w);
    c[113] = 0x03;
    c[114] = 0xE8; /* 1000 */
    assert_int_equal(lx__peer_decode(&out, c, w), LX_EFORMAT);
    c[114] = 0xE7; /* 999: one engine byte */
    assert_int_equal(lx__peer_decode(&out, c, w), LX_OK);
    assert_int_equal(out.u.snap_part.settle_len, 999);

    /* Not announced: the hash goes out as zeros. */
    m.u.snap_part.announced = 0;
    w = encode(&m);
    assert_int_equal(lx__peer_decode(&out, buf, w), LX_OK);
    assert_int_equal(out.u.snap_part.announced, 0);
    uint8_t zero[LX_STATE_HASH_LEN] = {0};
    assert_memory_equal(out.u.snap_part.announced_hash, zero, sizeof zero);

    /* Encoding refuses the same things, and a missing hash or data. */
    lx__peer_msg bad = m;
    bad.u.snap_part.offset = 701;
    assert_int_equal(lx__peer_encode(buf, sizeof buf, &w, &bad), LX_EINVAL);
    bad = m;
    bad.u.snap_part.data_len = 0;
    assert_int_equal(lx__peer_encode(buf, sizeof buf, &w, &bad), LX_EINVAL);
    bad = m;
    bad.u.snap_part.announced = 2;
    assert_int_equal(lx__peer_encode(buf, sizeof buf, &w, &bad), LX_EINVAL);
    bad = m;
    bad.u.snap_part.next_index = 0;
    assert_int_equal(lx__peer_encode(buf, sizeof buf, &w, &bad), LX_EINVAL);
    bad = m;
    bad.u.snap_part.total = LX__SNAP_BYTES_MAX + 1;
    bad.u.snap_part.offset = 0;
    assert_int_equal(lx__peer_encode(buf, sizeof buf, &w, &bad), LX_EINVAL);
    bad = m;
    bad.u.snap_part.state_hash = NULL;
    assert_int_equal(lx__peer_encode(buf, sizeof buf, &w, &bad), LX_EINVAL);
    bad = m;
    bad.u.snap_part.data = NULL;
    assert_int_equal(lx__peer_encode(buf, sizeof buf, &w, &bad), LX_EINVAL);
    bad = m;
    bad.u.snap_part.settle_len = 1000;
    assert_int_equal(lx__peer_encode(buf, sizeof buf, &w, &bad), LX_EINVAL);

    /* "No snapshot": seq 0 and nothing else. */
    lx__peer_msg none = base_msg(LX__P_SNAP_PART);
    w = encode(&none);
    assert_int_equal(w, 4 + 8 + 1 + 5 + 8 + 8 + 32 + 1 + 32 + 8 + 8 + 4 + 8 + 4);
    assert_int_equal(lx__peer_decode(&out, buf, w), LX_OK);
    assert_int_equal(out.u.snap_part.seq, 0);
    assert_int_equal(out.u.snap_part.data_len, 0);
    buf[99 + 7] = 1; /* a total with it */
    assert_int_equal(lx__peer_decode(&out, buf, w), LX_EFORMAT);
    buf[99 + 7] = 0;
    buf[107 + 7] = 1; /* a settlement section with it */
    assert_int_equal(lx__peer_decode(&out, buf, w), LX_EFORMAT);
    none.u.snap_part.total = 1;
    assert_int_equal(lx__peer_encode(buf, sizeof buf, &w, &none), LX_EINVAL);
    none.u.snap_part.total = 0;
    none.u.snap_part.settle_len = 1;
    assert_int_equal(lx__peer_encode(buf, sizeof buf, &w, &none), LX_EINVAL);

    /* The largest part fits in one peer message; one byte more does not
     * encode. */
    uint8_t *big = calloc(1, LX__PEER_MSG_MAX);
    uint8_t *msg = malloc(LX__PEER_MSG_MAX);
    assert_non_null(big);
    assert_non_null(msg);
    m.u.snap_part.total = (uint64_t)LX__SNAP_PART_MAX + 1;
    m.u.snap_part.offset = 0;
    m.u.snap_part.data = big;
    m.u.snap_part.data_len = (uint32_t)LX__SNAP_PART_MAX;
    assert_int_equal(lx__peer_encode(msg, LX__PEER_MSG_MAX, &w, &m), LX_OK);
    assert_true(w <= LX__PEER_MSG_MAX);
    assert_int_equal(lx__peer_decode(&out, msg, w), LX_OK);
    assert_int_equal(out.u.snap_part.data_len, LX__SNAP_PART_MAX);
    m.u.snap_part.data_len = (uint32_t)LX__SNAP_PART_MAX + 1;
    assert_int_equal(lx__peer_encode(msg, LX__PEER_MSG_MAX, &w, &m), LX_EINVAL);
    free(big);
    free(msg);
}

/* BATCH_REQ and BATCH_PART: a node fetching the files of old settlement
 * batches. */
static void test_batch_files(void **state)
{
    (void)state;
    lx__peer_msg m = base_msg(LX__P_BATCH_REQ), out;
    m.u.batch_req.number = 42;
    m.u.batch_req.kind = LX__BATCH_FILE_RECORD;
    m.u.batch_req.offset = 7;
    size_t w = encode(&m);
    assert_int_equal(w, 4 + 8 + 1 + 5 + 8 + 1 + 8);
    assert_int_equal(lx__peer_decode(&out, buf, w), LX_OK);
    assert_int_equal(out.u.batch_req.number, 42);
    assert_int_equal(out.u.batch_req.kind, LX__BATCH_FILE_RECORD);
    assert_int_equal(out.u.batch_req.offset, 7);
    buf[18 + 8] = 3; /* no such kind */
    assert_int_equal(lx__peer_decode(&out, buf, w), LX_EFORMAT);
    lx__peer_msg bad = m;
    bad.u.batch_req.number = 0;
    assert_int_equal(lx__peer_encode(buf, sizeof buf, &w, &bad), LX_EINVAL);
    bad = m;
    bad.u.batch_req.kind = 3;
    assert_int_equal(lx__peer_encode(buf, sizeof buf, &w, &bad), LX_EINVAL);
    bad = m;
    bad.u.batch_req.offset = LX__BATCH_FILE_MAX;
    assert_int_equal(lx__peer_encode(buf, sizeof buf, &w, &bad), LX_EINVAL);

    uint8_t data[100];
    memset(data, 0x3C, sizeof data);
    m = base_msg(LX__P_BATCH_PART);
    m.u.batch_part.number = 42;
    m.u.batch_part.kind = LX__BATCH_FILE_BATCH;
    m.u.batch_part.total = 1000;
    m.u.batch_part.offset = 900;
    m.u.batch_part.data = data;
    m.u.batch_part.data_len = sizeof data;
    w = encode(&m);
    assert_int_equal(w, 4 + 8 + 1 + 5 + 8 + 1 + 8 + 8 + 4 + sizeof data);
    assert_int_equal(lx__peer_decode(&out, buf, w), LX_OK);
    assert_int_equal(out.u.batch_part.number, 42);
    assert_int_equal(out.u.batch_part.total, 1000);
    assert_int_equal(out.u.batch_part.offset, 900);
    assert_int_equal(out.u.batch_part.data_len, sizeof data);
    assert_memory_equal(out.u.batch_part.data, data, sizeof data);
    /* Refused both ways: past the total, empty, over the file cap, batch 0,
     * and "no such file" with anything in it. */
    struct {
        uint64_t number, total, offset;
        uint32_t len;
    } no[] = {
        {42, 1000, 901, 100}, {42, 1000, 900, 0}, {42, LX__BATCH_FILE_MAX + 1, 0, 100},
        {0, 1000, 900, 100},  {42, 0, 5, 0},      {42, 0, 0, 100},
    };
    for (size_t k = 0; k < sizeof no / sizeof no[0]; k++) {
        bad = m;
        bad.u.batch_part.number = no[k].number;
        bad.u.batch_part.total = no[k].total;
        bad.u.batch_part.offset = no[k].offset;
        bad.u.batch_part.data_len = no[k].len;
        assert_int_equal(lx__peer_encode(buf, sizeof buf, &w, &bad), LX_EINVAL);
    }
    uint8_t c[512];
    memcpy(c, buf, w);
    c[18 + 8 + 1 + 7] = 0xE7; /* total 999 */
    assert_int_equal(lx__peer_decode(&out, c, w), LX_EFORMAT);
    /* The sender has no such file: total 0 and nothing else. */
    m.u.batch_part.total = m.u.batch_part.offset = 0;
    m.u.batch_part.data_len = 0;
    m.u.batch_part.data = NULL;
    w = encode(&m);
    assert_int_equal(lx__peer_decode(&out, buf, w), LX_OK);
    assert_int_equal(out.u.batch_part.total, 0);
}

static void test_malformed_headers(void **state)
{
    (void)state;
    lx__peer_msg m = base_msg(LX__P_HELLO), out;
    size_t w = encode(&m);
    uint8_t c[64];
    memcpy(c, buf, w);
    c[0] = 'X';
    assert_int_equal(lx__peer_decode(&out, c, w), LX_EFORMAT);
    memcpy(c, buf, w);
    c[2] = 3; /* a future version */
    assert_int_equal(lx__peer_decode(&out, c, w), LX_EUNSUPPORTED);
    memcpy(c, buf, w);
    c[2] = 1; /* version 1, without the cluster tag */
    assert_int_equal(lx__peer_decode(&out, c, w), LX_EUNSUPPORTED);
    memcpy(c, buf, w);
    c[3] = 99; /* unknown type */
    assert_int_equal(lx__peer_decode(&out, c, w), LX_EFORMAT);
    memcpy(c, buf, w);
    c[13] = ' '; /* a node id with a space */
    assert_int_equal(lx__peer_decode(&out, c, w), LX_EFORMAT);
    memcpy(c, buf, w);
    c[12] = 0; /* an empty node id */
    assert_int_equal(lx__peer_decode(&out, c, w), LX_EFORMAT);
    assert_int_equal(lx__peer_decode(&out, NULL, 0), LX_EFORMAT); /* empty */
    assert_int_equal(lx__peer_decode(&out, buf, LX__PEER_MSG_MAX + 1), LX_ETOOBIG);

    m = base_msg(LX__P_HELLO);
    snprintf(m.from, sizeof m.from, "bad id");
    assert_int_equal(lx__peer_encode(buf, sizeof buf, &w, &m), LX_EINVAL);
    m = base_msg(42);
    assert_int_equal(lx__peer_encode(buf, sizeof buf, &w, &m), LX_EINVAL);
    m = base_msg(LX__P_HELLO);
    assert_int_equal(lx__peer_encode(buf, 8, &w, &m), LX_ETOOBIG);
    assert_true(lx__node_id_ok("node0"));
    assert_false(lx__node_id_ok(""));
    assert_false(lx__node_id_ok("a/b"));
    assert_false(lx__node_id_ok("01234567890123456789012345678901"));
}

static void test_election_msgs(void **state)
{
    (void)state;
    lx__peer_msg out;
    for (uint8_t t = LX__P_VOTE_REQ; t <= LX__P_VOTE; t++) {
        lx__peer_msg m = base_msg(t);
        m.u.vote.term = 5;
        m.u.vote.prevote = 1;
        m.u.vote.granted = t == LX__P_VOTE;
        m.u.vote.last_seq = 900;
        m.u.vote.last_term = 4;
        size_t w = encode(&m);
        assert_int_equal(lx__peer_decode(&out, buf, w), LX_OK);
        assert_int_equal(out.type, t);
        assert_int_equal(out.u.vote.term, 5);
        assert_int_equal(out.u.vote.prevote, 1);
        assert_int_equal(out.u.vote.granted, t == LX__P_VOTE);
        assert_int_equal(out.u.vote.last_seq, 900);
        assert_int_equal(out.u.vote.last_term, 4);
        m.u.vote.term = 0; /* no term 0 */
        assert_int_equal(lx__peer_encode(buf, sizeof buf, &w, &m), LX_EINVAL);
    }

    lx__peer_msg m = base_msg(LX__P_SYNC_REQ);
    m.u.sync_req.term = 3;
    m.u.sync_req.seq = 50;
    m.u.sync_req.count = 3;
    uint64_t terms[3] = {1, 2, 3}, firsts[3] = {1, 20, 41};
    memcpy(m.u.sync_req.bterm, terms, sizeof terms);
    memcpy(m.u.sync_req.bfirst, firsts, sizeof firsts);
    size_t w = encode(&m);
    assert_int_equal(lx__peer_decode(&out, buf, w), LX_OK);
    assert_int_equal(out.u.sync_req.count, 3);
    assert_int_equal(out.u.sync_req.bterm[2], 3);
    assert_int_equal(out.u.sync_req.bfirst[1], 20);
    lx__peer_msg bad = m;
    bad.u.sync_req.bterm[2] = 2; /* terms must grow */
    assert_int_equal(lx__peer_encode(buf, sizeof buf, &w, &bad), LX_EINVAL);
    bad = m;
    bad.u.sync_req.seq = 40; /* a term starting after the last block */
    assert_int_equal(lx__peer_encode(buf, sizeof buf, &w, &bad), LX_EINVAL);
    bad = m;
    bad.u.sync_req.count = LX__TERMS_MAX + 1;
    assert_int_equal(lx__peer_encode(buf, sizeof buf, &w, &bad), LX_EINVAL);

    m = base_msg(LX__P_SYNC_RESP);
    m.u.sync_resp.term = 3;
    m.u.sync_resp.match = 40;
    m.u.sync_resp.last = 60;
    w = encode(&m);
    assert_int_equal(lx__peer_decode(&out, buf, w), LX_OK);
    assert_int_equal(out.u.sync_resp.match, 40);
    assert_int_equal(out.u.sync_resp.last, 60);
    m.u.sync_resp.match = 61; /* a match past the answering log */
    assert_int_equal(lx__peer_encode(buf, sizeof buf, &w, &m), LX_EINVAL);

    m = base_msg(LX__P_ACK);
    m.u.ack.term = 9;
    m.u.ack.seq = 1234;
    w = encode(&m);
    assert_int_equal(lx__peer_decode(&out, buf, w), LX_OK);
    assert_int_equal(out.u.ack.term, 9);
    assert_int_equal(out.u.ack.seq, 1234);
}

static void test_heartbeat(void **state)
{
    (void)state;
    lx__heartbeat hb, out;
    memset(&hb, 0, sizeof hb);
    memcpy(hb.cluster, tag, sizeof tag);
    snprintf(hb.node, sizeof hb.node, "node0");
    hb.role = LX__ROLE_LEADER;
    hb.term = 1;
    hb.seq = 12345;
    hb.commit = 12340;
    hb.beat = 0x0102030405060708ull;
    memset(hb.hash, 0x5a, sizeof hb.hash);
    uint8_t b[128];
    size_t w = lx__heartbeat_encode(b, sizeof b, &hb);
    assert_int_equal(w, 4 + 8 + 5 + 16 + 32 + 8 + 8);
    assert_int_equal(b[0], 'H');
    assert_memory_equal(b + 1, tag, sizeof tag); /* the subscription prefix */
    assert_int_equal(b[9], 3);                   /* version 3: with the beat and the cluster tag */
    static const uint8_t beat[] = {1, 2, 3, 4, 5, 6, 7, 8};
    assert_memory_equal(b + w - 8, beat, 8);
    assert_int_equal(lx__heartbeat_decode(&out, b, w), LX_OK);
    assert_string_equal(out.node, "node0");
    assert_memory_equal(out.cluster, tag, sizeof tag);
    assert_int_equal(out.role, LX__ROLE_LEADER);
    assert_int_equal(out.term, 1);
    assert_int_equal(out.seq, 12345);
    assert_memory_equal(out.hash, hb.hash, 32);
    assert_int_equal(out.commit, 12340);
    assert_true(out.beat == hb.beat);
    for (size_t i = 0; i < w; i++)
        assert_int_equal(lx__heartbeat_decode(&out, b, i), LX_EFORMAT);
    b[9] = 2; /* a version 2 heartbeat (no cluster tag) is not read as one */
    assert_int_equal(lx__heartbeat_decode(&out, b, w), LX_EFORMAT);
    assert_int_equal(lx__heartbeat_decode(&out, b, w - 8), LX_EFORMAT);
    b[9] = 3;
    b[11 + 5] = 3; /* role */
    assert_int_equal(lx__heartbeat_decode(&out, b, w), LX_EFORMAT);
    assert_int_equal(lx__heartbeat_encode(b, 10, &hb), 0);

    uint8_t hash[32], msg[LX__BLOCK_MSG_HDR + LX_BLOCK_HDR_LEN];
    memset(hash, 3, sizeof hash);
    memset(msg, 0, sizeof msg);
    lx__block_msg_header(msg, tag, hash);
    assert_int_equal(msg[0], 'B');
    assert_memory_equal(msg + 1, tag, sizeof tag);
    const uint8_t *cp, *hp, *bp;
    size_t blen;
    assert_int_equal(lx__block_msg_decode(&cp, &hp, &bp, &blen, msg, sizeof msg), LX_OK);
    assert_memory_equal(cp, tag, sizeof tag);
    assert_memory_equal(hp, hash, 32);
    assert_ptr_equal(bp, msg + LX__BLOCK_MSG_HDR);
    assert_int_equal(blen, LX_BLOCK_HDR_LEN);
    assert_int_equal(lx__block_msg_decode(&cp, &hp, &bp, &blen, msg, sizeof msg - 1), LX_EFORMAT);
    msg[9] = 1; /* version 1, without the cluster tag */
    assert_int_equal(lx__block_msg_decode(&cp, &hp, &bp, &blen, msg, sizeof msg), LX_EFORMAT);
    msg[9] = 2;
    msg[0] = 'T';
    assert_int_equal(lx__block_msg_decode(&cp, &hp, &bp, &blen, msg, sizeof msg), LX_EFORMAT);
}

/* RELAY: the layout, a round trip whose inner message decodes to what was
 * wrapped, and every bad field refused both ways. */
static void test_relay(void **state)
{
    (void)state;
    static uint8_t inner[64], wrapped[1 << 16];
    lx__peer_msg a = base_msg(LX__P_ACK), out, in2;
    snprintf(a.from, sizeof a.from, "node3");
    a.u.ack.term = 2;
    a.u.ack.seq = 77;
    size_t ilen = 0;
    assert_int_equal(lx__peer_encode(inner, sizeof inner, &ilen, &a), LX_OK);

    lx__peer_msg m = base_msg(LX__P_RELAY);
    snprintf(m.from, sizeof m.from, "node4");
    snprintf(m.u.relay.dest, sizeof m.u.relay.dest, "node0");
    m.u.relay.ttl = 4;
    m.u.relay.inner = inner;
    m.u.relay.inner_len = (uint32_t)ilen;
    size_t w = encode(&m);
    /* magic, version, type 16, cluster tag, "node4", "node0", ttl 4, be32
     * length, inner */
    static const uint8_t head[] = {0x4c, 0x50, 2,   16,  0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6,
                                   0xc7, 0xc8, 5,   'n', 'o',  'd',  'e',  '4',  5,    'n',
                                   'o',  'd',  'e', '0', 4,    0,    0,    0};
    assert_int_equal(w, sizeof head + 1 + ilen);
    assert_memory_equal(buf, head, sizeof head);
    assert_int_equal(buf[sizeof head], ilen);
    assert_memory_equal(buf + sizeof head + 1, inner, ilen);
    assert_int_equal(lx__peer_decode(&out, buf, w), LX_OK);
    assert_int_equal(out.type, LX__P_RELAY);
    assert_string_equal(out.from, "node4");
    assert_string_equal(out.u.relay.dest, "node0");
    assert_int_equal(out.u.relay.ttl, 4);
    assert_int_equal(out.u.relay.inner_len, ilen);
    assert_int_equal(lx__peer_decode(&in2, out.u.relay.inner, out.u.relay.inner_len), LX_OK);
    assert_int_equal(in2.type, LX__P_ACK);
    assert_string_equal(in2.from, "node3");
    assert_int_equal(in2.u.ack.seq, 77);

    /* The encoder refuses what the decoder would. */
    lx__peer_msg bad = m;
    bad.u.relay.ttl = 0;
    assert_int_equal(lx__peer_encode(buf, sizeof buf, &w, &bad), LX_EINVAL);
    bad.u.relay.ttl = LX__RELAY_TTL_MAX + 1;
    assert_int_equal(lx__peer_encode(buf, sizeof buf, &w, &bad), LX_EINVAL);
    bad = m;
    bad.u.relay.dest[0] = 0;
    assert_int_equal(lx__peer_encode(buf, sizeof buf, &w, &bad), LX_EINVAL);
    bad = m;
    bad.u.relay.inner_len = 5; /* shorter than any peer message */
    assert_int_equal(lx__peer_encode(buf, sizeof buf, &w, &bad), LX_EINVAL);
    bad = m;
    bad.u.relay.inner = NULL;
    assert_int_equal(lx__peer_encode(buf, sizeof buf, &w, &bad), LX_EINVAL);

    /* A relay inside a relay is refused: nothing nests. */
    size_t w1 = encode(&m);
    memcpy(wrapped, buf, w1);
    bad = m;
    bad.u.relay.inner = wrapped;
    bad.u.relay.inner_len = (uint32_t)w1;
    assert_int_equal(lx__peer_encode(buf, sizeof buf, &w, &bad), LX_EINVAL);
    m.u.relay.inner = inner;
    w = encode(&m);
    size_t ttl_at = sizeof head - 3 - 1, inner_at = sizeof head + 1;
    buf[inner_at + 3] = LX__P_RELAY;
    assert_int_equal(lx__peer_decode(&out, buf, w), LX_EFORMAT);
    buf[inner_at + 3] = LX__P_ACK;
    buf[inner_at] = 0x00; /* not a peer message's magic */
    assert_int_equal(lx__peer_decode(&out, buf, w), LX_EFORMAT);
    buf[inner_at] = 0x4c;
    buf[ttl_at] = 0; /* ttl 0: it should not have been sent on */
    assert_int_equal(lx__peer_decode(&out, buf, w), LX_EFORMAT);
    buf[ttl_at] = LX__RELAY_TTL_MAX + 1;
    assert_int_equal(lx__peer_decode(&out, buf, w), LX_EFORMAT);
    buf[ttl_at] = 4;
    assert_int_equal(lx__peer_decode(&out, buf, w), LX_OK);

    /* A full-size inner message fits in a relay; one byte more is too big. */
    uint8_t *big = malloc(LX__RELAY_MSG_MAX + 1);
    uint8_t *bin = malloc(LX__PEER_MSG_MAX + 1);
    assert_non_null(big);
    assert_non_null(bin);
    memset(bin, 0, LX__PEER_MSG_MAX + 1);
    memcpy(bin, inner, 4 + LX__CLUSTER_TAG_LEN + 2);
    m.u.relay.inner = bin;
    m.u.relay.inner_len = (uint32_t)LX__PEER_MSG_MAX;
    assert_int_equal(lx__peer_encode(big, LX__RELAY_MSG_MAX, &w, &m), LX_OK);
    assert_true(w <= LX__RELAY_MSG_MAX);
    assert_int_equal(lx__peer_decode(&out, big, w), LX_OK);
    assert_int_equal(out.u.relay.inner_len, LX__PEER_MSG_MAX);
    m.u.relay.inner_len = (uint32_t)LX__PEER_MSG_MAX + 1;
    assert_int_equal(lx__peer_encode(big, LX__RELAY_MSG_MAX + 1, &w, &m), LX_ETOOBIG);
    /* Another type as long as a relay is too big for it. */
    memcpy(big, buf, 5);
    big[3] = LX__P_ACK;
    assert_int_equal(lx__peer_decode(&out, big, LX__PEER_MSG_MAX + 1), LX_ETOOBIG);
    free(big);
    free(bin);
}

static void test_hash_ring(void **state)
{
    (void)state;
    static lx__hash_ring r;
    uint8_t h[32];
    memset(h, 1, sizeof h);
    assert_null(lx__hash_ring_get(&r, 5));
    lx__hash_ring_put(&r, 5, h);
    assert_non_null(lx__hash_ring_get(&r, 5));
    assert_memory_equal(lx__hash_ring_get(&r, 5), h, 32);
    lx__hash_ring_put(&r, 5 + LX__HASH_RING, h); /* overwrites the slot */
    assert_null(lx__hash_ring_get(&r, 5));
    assert_null(lx__hash_ring_get(&r, 0));
    char hex[65];
    lx__hex(hex, h, 32);
    assert_int_equal(strlen(hex), 64);
    assert_int_equal(hex[0], '0');
    assert_int_equal(hex[1], '1');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello),     cmocka_unit_test(test_forward),
        cmocka_unit_test(test_result),    cmocka_unit_test(test_gap),
        cmocka_unit_test(test_settle),    cmocka_unit_test(test_malformed_headers),
        cmocka_unit_test(test_heartbeat), cmocka_unit_test(test_election_msgs),
        cmocka_unit_test(test_hash_ring), cmocka_unit_test(test_heartbeat),
        cmocka_unit_test(test_hash_ring), cmocka_unit_test(test_snap),
        cmocka_unit_test(test_relay),     cmocka_unit_test(test_batch_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
