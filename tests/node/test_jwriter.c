/* Tests for the journal writer: blocks handed to the thread are appended
 * and reported synced, also while a snapshot is being written; the main
 * thread's direct appends (lx__jw_append_direct)
 * happen only when nothing waits for the thread, so blocks stay in seq order
 * whichever way each one goes; direct appends are refused when turned off
 * and once syncs average above the limit; and everything reads back from
 * the journal after the writer stops. */
#define _XOPEN_SOURCE 700

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../node/logio.h"
#include "../../node/node_int.h"
#include "test_fs.h"

static char tmpdir[256];
static lx_zctx *ctx;
static lx__jw *live; /* the writer a test started and has not stopped */
static const uint8_t tag[LX__CLUSTER_TAG_LEN] = {9, 8, 7, 6, 5, 4, 3, 2};

static int setup(void **state)
{
    (void)state;
    lx_test_tmpdir(tmpdir, sizeof tmpdir, "lx-jwriter-test");
    return lx_zctx_new(&ctx, 1) == LX_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    lx_zctx_free(&ctx);
    return lx_test_rm_rf(tmpdir);
}

/* After a failed test: stops its writer, so that the context can close. */
static int stop_live(void **state)
{
    (void)state;
    lx__jw_stop(&live);
    return 0;
}

static const char *fresh(const char *name)
{
    static char dir[512];
    snprintf(dir, sizeof dir, "%s/%s", tmpdir, name);
    return dir;
}

/* Block seq: one deposit entry, so that every block is valid and distinct. */
static size_t make_block(uint8_t *buf, size_t cap, uint64_t seq)
{
    lx_entry e;
    memset(&e, 0, sizeof e);
    e.cmd.type = LX_CMD_DEPOSIT;
    e.cmd.u.transfer = (lx_transfer_cmd){.account = seq, .amount = 1000 + seq};
    strcpy(e.cmd.u.transfer.asset, "USD");
    lx_block_hdr h = {.seq = seq, .term = 1, .timestamp_us = 1000 * seq, .first_index = seq};
    size_t len = 0;
    assert_int_equal(lx_block_encode(buf, cap, &len, &h, &e, 1), LX_OK);
    return len;
}

static lx__jw *start_sync(const char *dir, uint32_t direct_max_us, int fsync)
{
    lx_journal *j = NULL;
    lx_journal_opts o = {.no_fsync = !fsync};
    assert_int_equal(lx_journal_open(&j, NULL, dir, &o), LX_OK);
    lx__jw *w = NULL;
    assert_int_equal(lx__jw_start(&w, ctx, j, dir, "node0", tag, direct_max_us), LX_OK);
    live = w;
    return w;
}

static lx__jw *start(const char *dir, uint32_t direct_max_us)
{
    return start_sync(dir, direct_max_us, 0);
}

/* Waits up to 10 ms for the thread's messages and passes each to on. */
static void take_msgs(lx__jw *w, void (*on)(const uint8_t *p, size_t len, uint64_t *got),
                      uint64_t *got)
{
    lx_zpollitem it = {lx__jw_sock(w), 0, LX_ZPOLLIN, 0};
    int ready = 0;
    assert_int_equal(lx_zpoll(&ready, &it, 1, 10), LX_OK);
    lx_zmsg m;
    while (lx_zsock_recv(lx__jw_sock(w), &m, LX_ZDONTWAIT) == LX_OK) {
        on(m.part[0].data, m.part[0].len, got);
        lx_zmsg_close(&m);
    }
}

/* 'Y': the highest synced seq to *got; 'E' fails the test. */
static void on_synced(const uint8_t *p, size_t len, uint64_t *got)
{
    assert_int_not_equal(p[0], 'E');
    if (p[0] == 'Y' && len == 9 && lx__get_u64(p + 1) > *got)
        *got = lx__get_u64(p + 1);
}

/* Waits for the thread's 'Y' reporting seq or later; fails on 'E'. */
static void wait_synced(lx__jw *w, uint64_t seq)
{
    uint64_t got = 0;
    for (int i = 0; i < 500 && got < seq; i++)
        take_msgs(w, on_synced, &got);
    assert_true(got >= seq);
}

/* Stops the writer and checks that the journal holds blocks 1..last. */
static void stop_and_check(lx__jw **w, const char *dir, uint64_t last)
{
    lx__jw_stop(w);
    assert_null(*w);
    live = NULL;
    lx_journal *j = NULL;
    lx_journal_opts o = {.no_fsync = 1};
    assert_int_equal(lx_journal_open(&j, NULL, dir, &o), LX_OK);
    assert_int_equal(lx_journal_last_seq(j), last);
    uint8_t want[256];
    for (uint64_t s = 1; s <= last; s++) {
        const uint8_t *data;
        size_t len, wlen = make_block(want, sizeof want, s);
        assert_int_equal(lx_journal_read(j, &data, &len, s), LX_OK);
        assert_int_equal(len, wlen);
        assert_memory_equal(data, want, len);
    }
    lx_journal_free(&j);
}

static void test_thread_appends(void **state)
{
    (void)state;
    const char *dir = fresh("thread");
    lx__jw *w = start(dir, 0);
    uint8_t buf[256];
    for (uint64_t s = 1; s <= 20; s++) {
        size_t len = make_block(buf, sizeof buf, s);
        assert_int_equal(lx__jw_append(w, buf, len), LX_OK);
    }
    wait_synced(w, 20);
    stop_and_check(&w, dir, 20);
}

static void test_direct_off_refuses(void **state)
{
    (void)state;
    const char *dir = fresh("off");
    lx__jw *w = start(dir, 0);
    uint8_t buf[256];
    size_t len = make_block(buf, sizeof buf, 1);
    uint64_t synced = 99;
    assert_int_equal(lx__jw_append_direct(w, buf, len, &synced), LX_EAGAIN);
    assert_int_equal(synced, 99); /* untouched */
    assert_int_equal(lx__jw_append(w, buf, len), LX_OK);
    wait_synced(w, 1);
    stop_and_check(&w, dir, 1);
}

/* Tries a direct append until the thread has let go of the journal (it
 * may still hold it for a moment after its last 'Y'). */
static void direct_soon(lx__jw *w, uint64_t seq)
{
    uint8_t buf[256];
    size_t len = make_block(buf, sizeof buf, seq);
    uint64_t synced = 0;
    lx_err rc = LX_EAGAIN;
    for (int i = 0; i < 1000 && rc == LX_EAGAIN; i++) {
        rc = lx__jw_append_direct(w, buf, len, &synced);
        if (rc == LX_EAGAIN) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
    }
    assert_int_equal(rc, LX_OK);
    assert_int_equal(synced, seq);
}

static void test_direct_when_idle(void **state)
{
    (void)state;
    const char *dir = fresh("direct");
    lx__jw *w = start(dir, 1000000);
    for (uint64_t s = 1; s <= 30; s++)
        direct_soon(w, s);
    stop_and_check(&w, dir, 30);
}

/* With a limit of 1 µs and real syncs (a write and an fdatasync each, more
 * than a microsecond on any machine), the moving average passes the limit
 * after a few direct syncs, and from then on blocks go to the thread. */
static void test_slow_syncs_go_to_thread(void **state)
{
    (void)state;
    const char *dir = fresh("slow");
    lx__jw *w = start_sync(dir, 1, 1);
    uint8_t buf[256];
    uint64_t seq = 0;
    lx_err rc = LX_OK;
    while (rc == LX_OK && seq < 1000) {
        size_t len = make_block(buf, sizeof buf, ++seq);
        uint64_t synced = 0;
        rc = lx__jw_append_direct(w, buf, len, &synced);
        if (rc == LX_EAGAIN)
            assert_int_equal(lx__jw_append(w, buf, len), LX_OK);
        else
            assert_int_equal(rc, LX_OK);
    }
    assert_int_equal(rc, LX_EAGAIN);
    assert_true(seq > 1); /* the average starts at 0: the first goes directly */
    wait_synced(w, seq);
    stop_and_check(&w, dir, seq);
}

/* Blocks go to the thread and directly in turn. Each round starts with the
 * thread idle, queues a few blocks and at once tries one directly: the
 * thread has not woken up yet, so a direct append that did not wait for the
 * queue would jump it and be out of seq order, which the journal refuses
 * (and the thread reports as 'E'). */
static void test_direct_keeps_order(void **state)
{
    (void)state;
    const char *dir = fresh("mixed");
    lx__jw *w = start(dir, 1000000);
    uint8_t buf[256];
    uint64_t seq = 0, direct = 0, queued = 0, waited = 0;
    for (int round = 0; round < 200; round++) {
        if (queued > waited) /* direct appends get no 'Y' */
            wait_synced(w, waited = queued);
        for (int k = 0; k < round % 3; k++) {
            size_t len = make_block(buf, sizeof buf, ++seq);
            assert_int_equal(lx__jw_append(w, buf, len), LX_OK);
            queued = seq;
        }
        size_t len = make_block(buf, sizeof buf, ++seq);
        uint64_t synced = 0;
        lx_err rc = lx__jw_append_direct(w, buf, len, &synced);
        if (rc == LX_OK) {
            assert_int_equal(synced, seq);
            direct++;
        } else {
            assert_int_equal(rc, LX_EAGAIN);
            assert_int_equal(lx__jw_append(w, buf, len), LX_OK);
            queued = seq;
        }
    }
    if (queued > waited)
        wait_synced(w, queued);
    direct_soon(w, ++seq);
    stop_and_check(&w, dir, seq);
    print_message("%llu of 200 blocks went directly\n", (unsigned long long)direct);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int snap_exists(const char *dir, uint64_t seq)
{
    char path[600];
    snprintf(path, sizeof path, "%s/snapshots/%020llu.snap", dir, (unsigned long long)seq);
    return access(path, F_OK) == 0;
}

/* 'N' for slot 3: the seq of the snapshot served to *got. */
static void on_snap_part(const uint8_t *p, size_t len, uint64_t *got)
{
    if (p[0] != 'N')
        return;
    assert_int_equal(lx__get_u32(p + 1), 3);
    lx__peer_msg pm;
    assert_int_equal(lx__peer_decode(&pm, p + 5, len - 5), LX_OK);
    assert_int_equal(pm.type, LX__P_SNAP_PART);
    assert_memory_equal(pm.cluster, tag, sizeof tag); /* the writer's cluster */
    *got = pm.u.snap_part.seq;
}

/* A snapshot is written by a thread of its own: blocks handed over after
 * it are synced while it is still being written (held up here for 1.5 s),
 * and a state sync read after it waits for it and serves it. */
static void test_snapshot_does_not_hold_blocks(void **state)
{
    (void)state;
    const char *dir = fresh("snapwrite");
    assert_int_equal(setenv("LX_TEST_SNAP_WRITE_DELAY_MS", "1500", 1), 0);
    lx__jw *w = start(dir, 0);
    assert_int_equal(unsetenv("LX_TEST_SNAP_WRITE_DELAY_MS"), 0);
    uint8_t buf[256];
    size_t len = make_block(buf, sizeof buf, 1);
    assert_int_equal(lx__jw_append(w, buf, len), LX_OK);
    wait_synced(w, 1);

    lx_engine *e = NULL;
    lx_engine_config ec = {0};
    assert_int_equal(lx_engine_new(&e, &ec), LX_OK);
    lx__jw_snap s;
    memset(&s, 0, sizeof s);
    assert_int_equal(lx_engine_snapshot_len(e, &s.len), LX_OK);
    s.engine = malloc(s.len);
    assert_non_null(s.engine);
    assert_int_equal(lx_engine_snapshot_to(e, s.engine, s.len, &s.len), LX_OK);
    lx_engine_free(&e);
    s.meta.seq = 1;
    s.meta.next_index = 2;

    uint64_t t0 = now_ms();
    assert_int_equal(lx__jw_snapshot(w, &s), LX_OK);
    for (uint64_t seq = 2; seq <= 5; seq++) {
        len = make_block(buf, sizeof buf, seq);
        assert_int_equal(lx__jw_append(w, buf, len), LX_OK);
    }
    wait_synced(w, 5);
    uint64_t took = now_ms() - t0;
    assert_false(snap_exists(dir, 1)); /* still being written */
    assert_true(took < 1000);
    /* A state sync read waits for it, and serves it. */
    assert_int_equal(lx__jw_snap_read(w, 3, 0, 0), LX_OK);
    uint64_t served = 0;
    for (int i = 0; i < 500 && !served; i++)
        take_msgs(w, on_snap_part, &served);
    assert_int_equal(served, 1);
    assert_true(snap_exists(dir, 1));
    stop_and_check(&w, dir, 5);
    print_message("blocks 2-5 synced %llu ms after the snapshot was handed over\n",
                  (unsigned long long)took);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_thread_appends, stop_live),
        cmocka_unit_test_teardown(test_direct_off_refuses, stop_live),
        cmocka_unit_test_teardown(test_direct_when_idle, stop_live),
        cmocka_unit_test_teardown(test_slow_syncs_go_to_thread, stop_live),
        cmocka_unit_test_teardown(test_direct_keeps_order, stop_live),
        cmocka_unit_test_teardown(test_snapshot_does_not_hold_blocks, stop_live),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
