/* Tests for the journal, snapshots and restart recovery: durability across
 * reopen, torn tails, corruption, rotation, ranges, truncation, compaction,
 * snapshot fallback and a recovered state hash equal to a straight run. */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "lx/node.h"

/* ---- fixtures ---- */

static char tmpdir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/lx-journal-test-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static void rm_rf(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            char sub[1024];
            snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
            rm_rf(sub);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static int teardown(void **state)
{
    (void)state;
    rm_rf(tmpdir);
    return 0;
}

/* A fresh, empty data folder for one case. The name stays valid for the next
 * three calls. */
static const char *fresh(const char *name)
{
    static char dirs[4][512];
    static unsigned next;
    char *dir = dirs[next++ % 4];
    snprintf(dir, sizeof dirs[0], "%s/%s", tmpdir, name);
    rm_rf(dir);
    return dir;
}

static const lx_journal_opts fast = {.no_fsync = 1};

/* The entries of block seq: a market and deposits first, then orders that
 * cross, so that blocks produce fills. */
static size_t block_entries(lx_entry *v, uint64_t seq)
{
    size_t n = 0;
    memset(v, 0, 4 * sizeof *v);
    if (seq == 1) {
        v[0].is_market = 1;
        strcpy(v[0].market.name, "BTC-USD");
        strcpy(v[0].market.base, "BTC");
        strcpy(v[0].market.quote, "USD");
        v[0].market.lot = 10;
        v[0].market.tick = 1;
        v[0].market.min_qty = 1;
        v[0].market.taker_fee_bps = 5;
        v[1].cmd.type = LX_CMD_DEPOSIT;
        v[1].cmd.u.transfer = (lx_transfer_cmd){.account = 1, .amount = 1000000000000ull};
        strcpy(v[1].cmd.u.transfer.asset, "USD");
        v[2].cmd.type = LX_CMD_DEPOSIT;
        v[2].cmd.u.transfer = (lx_transfer_cmd){.account = 2, .amount = 1000000000ull};
        strcpy(v[2].cmd.u.transfer.asset, "BTC");
        return 3;
    }
    for (uint64_t i = 0; i < 3; i++) {
        lx_order_cmd *o = &v[n].cmd.u.order;
        v[n++].cmd.type = LX_CMD_ORDER;
        o->id = seq * 10 + i;
        o->account = (seq + i) % 2 + 1;
        o->side = o->account == 1 ? LX_BUY : LX_SELL;
        o->type = LX_LIMIT;
        o->price = 1000 + (seq * 7 + i * 3) % 20;
        o->qty = 1 + (seq + i) % 5;
    }
    return n;
}

/* Encodes block seq into buf; first_index continues from earlier blocks. */
static size_t make_block(uint8_t *buf, size_t cap, uint64_t seq)
{
    lx_entry v[4];
    /* block 1 has 3 entries, every later one 3: entries count from 1 */
    uint64_t first_index = 1 + (seq - 1) * 3;
    size_t n = block_entries(v, seq);
    lx_block_hdr h = {
        .seq = seq, .term = 1, .timestamp_us = 1000 * seq, .first_index = first_index};
    size_t len = 0;
    assert_int_equal(lx_block_encode(buf, cap, &len, &h, v, n), LX_OK);
    return len;
}

static void append_range(lx_journal *j, uint64_t from, uint64_t to)
{
    uint8_t buf[1024];
    for (uint64_t s = from; s <= to; s++) {
        size_t len = make_block(buf, sizeof buf, s);
        assert_int_equal(lx_journal_append(j, buf, len), LX_OK);
    }
}

static void write_journal(const char *dir, uint64_t n, const lx_journal_opts *o)
{
    lx_journal *j = NULL;
    assert_int_equal(lx_journal_open(&j, NULL, dir, o), LX_OK);
    append_range(j, 1, n);
    assert_int_equal(lx_journal_sync(j), LX_OK);
    lx_journal_free(&j);
    assert_null(j);
}

static void seg_file(char *out, size_t len, const char *dir, uint64_t first)
{
    snprintf(out, len, "%s/journal/%020" PRIu64 ".log", dir, first);
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (uint64_t)st.st_size;
}

static void patch_byte(const char *path, uint64_t off, uint8_t xor_with)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, (off_t)off), 1);
    b ^= xor_with;
    assert_int_equal(pwrite(fd, &b, 1, (off_t)off), 1);
    close(fd);
}

static void cut_file(const char *path, uint64_t size)
{
    assert_int_equal(truncate(path, (off_t)size), 0);
}

/* Checks that block seq reads back as make_block wrote it. */
static void assert_block(lx_journal *j, uint64_t seq)
{
    uint8_t want[1024];
    size_t wlen = make_block(want, sizeof want, seq);
    const uint8_t *data;
    size_t len;
    assert_int_equal(lx_journal_read(j, &data, &len, seq), LX_OK);
    assert_int_equal(len, wlen);
    assert_memory_equal(data, want, len);
}

/* ---- journal ---- */

static void test_append_sync_reopen(void **state)
{
    (void)state;
    const char *dir = fresh("basic");
    lx_journal *j = NULL;
    lx_journal_info info;
    assert_int_equal(lx_journal_open(&j, &info, dir, NULL), LX_OK);
    assert_int_equal(lx_journal_last_seq(j), 0);
    assert_int_equal(lx_journal_first_seq(j), 0);
    append_range(j, 1, 40);
    assert_int_equal(lx_journal_last_seq(j), 40);
    assert_int_equal(lx_journal_synced_seq(j), 0);
    assert_block(j, 17); /* buffered blocks are readable */
    assert_int_equal(lx_journal_sync(j), LX_OK);
    assert_int_equal(lx_journal_synced_seq(j), 40);
    assert_int_equal(lx_journal_next_index(j), 1 + 40 * 3);

    /* Contiguity of seq and entry index. */
    uint8_t buf[1024];
    size_t len = make_block(buf, sizeof buf, 42);
    assert_int_equal(lx_journal_append(j, buf, len), LX_ESTATE);
    len = make_block(buf, sizeof buf, 41);
    buf[36] ^= 1; /* first_index */
    assert_int_equal(lx_journal_append(j, buf, len), LX_ESTATE);
    buf[36] ^= 1;
    assert_int_equal(lx_journal_append(j, buf, 10), LX_EFORMAT);
    lx_journal_free(&j);

    assert_int_equal(lx_journal_open(&j, &info, dir, NULL), LX_OK);
    assert_int_equal(info.blocks, 40);
    assert_int_equal(info.segments, 1);
    assert_int_equal(info.torn_records, 0);
    assert_int_equal(lx_journal_first_seq(j), 1);
    assert_int_equal(lx_journal_last_seq(j), 40);
    assert_int_equal(lx_journal_synced_seq(j), 40);
    assert_int_equal(lx_journal_next_index(j), 121);
    for (uint64_t s = 1; s <= 40; s++)
        assert_block(j, s);
    append_range(j, 41, 45);
    lx_journal_free(&j);
    assert_int_equal(lx_journal_open(&j, &info, dir, NULL), LX_OK);
    assert_int_equal(lx_journal_last_seq(j), 45);
    lx_journal_free(&j);

    /* A read-only open of a missing journal. */
    lx_journal_opts ro = {.read_only = 1};
    assert_int_equal(lx_journal_open(&j, NULL, fresh("missing"), &ro), LX_ENOTFOUND);
    assert_int_equal(lx_journal_open(&j, NULL, "/nonexistent-lx/a/b", NULL), LX_ENOTFOUND);
}

typedef struct seen {
    uint64_t first, last, n;
} seen;

static lx_err count_fn(void *arg, uint64_t seq, const uint8_t *data, size_t len)
{
    seen *s = arg;
    lx_block_hdr h;
    assert_int_equal(lx_block_peek(&h, data, len), LX_OK);
    assert_int_equal(h.seq, seq);
    if (!s->n)
        s->first = seq;
    assert_true(!s->n || seq == s->last + 1);
    s->last = seq;
    s->n++;
    return seq == 33 ? LX_EEXIST : LX_OK; /* stops early when asked */
}

static void test_read_range(void **state)
{
    (void)state;
    const char *dir = fresh("range");
    lx_journal_opts o = {.no_fsync = 1, .segment_bytes = 700};
    write_journal(dir, 30, &o);
    lx_journal *j = NULL;
    assert_int_equal(lx_journal_open(&j, NULL, dir, &o), LX_OK);
    seen s = {0};
    assert_int_equal(lx_journal_foreach(j, 5, 12, count_fn, &s), LX_OK);
    assert_int_equal(s.first, 5);
    assert_int_equal(s.last, 12);
    assert_int_equal(s.n, 8);
    memset(&s, 0, sizeof s);
    assert_int_equal(lx_journal_foreach(j, 0, UINT64_MAX, count_fn, &s), LX_OK);
    assert_int_equal(s.n, 30);
    memset(&s, 0, sizeof s);
    append_range(j, 31, 40);
    assert_int_equal(lx_journal_foreach(j, 28, 100, count_fn, &s), LX_EEXIST);
    assert_int_equal(s.last, 33);
    const uint8_t *data;
    size_t len;
    assert_int_equal(lx_journal_read(j, &data, &len, 0), LX_ENOTFOUND);
    assert_int_equal(lx_journal_read(j, &data, &len, 41), LX_ENOTFOUND);
    for (uint64_t q = 40; q >= 1; q--) /* backwards, across segments */
        assert_block(j, q);
    lx_journal_free(&j);
}

static void test_rotation(void **state)
{
    (void)state;
    const char *dir = fresh("rotate");
    uint8_t buf[1024];
    size_t blen = make_block(buf, sizeof buf, 2); /* every block after 1 has this size */
    /* Room for three records of the common size per segment. */
    lx_journal_opts o = {.no_fsync = 0, .segment_bytes = 3 * (blen + 8)};
    write_journal(dir, 20, &o);
    lx_journal *j = NULL;
    lx_journal_info info;
    assert_int_equal(lx_journal_open(&j, &info, dir, &o), LX_OK);
    assert_true(info.segments >= 6);
    assert_int_equal(lx_journal_segment_count(j), info.segments);
    char path[1024];
    seg_file(path, sizeof path, dir, 1);
    assert_true(file_size(path) <= o.segment_bytes);
    /* The names follow the first seq each holds. */
    uint64_t first = 1, files = 0;
    while (first <= 20) {
        seg_file(path, sizeof path, dir, first);
        assert_true(access(path, F_OK) == 0);
        files++;
        first += (first == 1) ? 2 : 3; /* block 1 is a little larger */
        if (first == 3)
            first = 3;
    }
    (void)files;
    for (uint64_t s = 1; s <= 20; s++)
        assert_block(j, s);
    lx_journal_free(&j);

    /* A block larger than the limit gets a segment of its own. */
    lx_journal_opts tiny = {.no_fsync = 1, .segment_bytes = 16};
    dir = fresh("rotate_tiny");
    write_journal(dir, 5, &tiny);
    assert_int_equal(lx_journal_open(&j, &info, dir, &tiny), LX_OK);
    assert_int_equal(info.segments, 5);
    lx_journal_free(&j);
}

/* Writes 4 blocks and returns the size of the journal and where block 4's
 * record starts. */
static void torn_base(const char *dir, uint64_t *size, uint64_t *last_off)
{
    write_journal(dir, 3, &fast);
    char path[1024];
    seg_file(path, sizeof path, dir, 1);
    *last_off = file_size(path);
    lx_journal *j = NULL;
    assert_int_equal(lx_journal_open(&j, NULL, dir, &fast), LX_OK);
    append_range(j, 4, 4);
    lx_journal_free(&j);
    *size = file_size(path);
}

static void test_torn_tail_every_cut(void **state)
{
    (void)state;
    char path[1024];
    uint64_t size, last_off;
    const char *dir = fresh("torn");
    torn_base(dir, &size, &last_off);
    seg_file(path, sizeof path, dir, 1);
    for (uint64_t cut = last_off; cut < size; cut++) {
        dir = fresh("torn");
        torn_base(dir, &size, &last_off);
        cut_file(path, cut);
        lx_journal *j = NULL;
        lx_journal_info info;
        assert_int_equal(lx_journal_open(&j, &info, dir, &fast), LX_OK);
        assert_int_equal(info.torn_records, cut > last_off ? 1 : 0);
        assert_int_equal(info.torn_bytes, cut - last_off);
        assert_int_equal(lx_journal_last_seq(j), 3);
        assert_int_equal(file_size(path), last_off);
        /* Appends continue where the good records end. */
        append_range(j, 4, 5);
        assert_int_equal(lx_journal_sync(j), LX_OK);
        lx_journal_free(&j);
        assert_int_equal(lx_journal_open(&j, &info, dir, &fast), LX_OK);
        assert_int_equal(info.torn_records, 0);
        assert_int_equal(lx_journal_last_seq(j), 5);
        assert_block(j, 4);
        assert_block(j, 5);
        lx_journal_free(&j);
    }

    /* A bad checksum in the last record, reaching the end of the file. */
    dir = fresh("torn");
    torn_base(dir, &size, &last_off);
    patch_byte(path, size - 1, 0x40);
    lx_journal *j = NULL;
    lx_journal_info info;
    /* read-only: reported, not served, left on disk */
    lx_journal_opts ro = {.read_only = 1};
    assert_int_equal(lx_journal_open(&j, &info, dir, &ro), LX_OK);
    assert_int_equal(info.torn_records, 1);
    assert_int_equal(lx_journal_last_seq(j), 3);
    uint8_t buf[1024];
    size_t len = make_block(buf, sizeof buf, 4);
    assert_int_equal(lx_journal_append(j, buf, len), LX_ESTATE);
    lx_journal_free(&j);
    assert_int_equal(file_size(path), size);
    assert_int_equal(lx_journal_open(&j, &info, dir, &fast), LX_OK);
    assert_int_equal(info.torn_records, 1);
    assert_int_equal(info.torn_bytes, size - last_off);
    assert_int_equal(lx_journal_last_seq(j), 3);
    lx_journal_free(&j);

    /* A zero-filled tail (preallocated space never written). */
    dir = fresh("torn");
    torn_base(dir, &size, &last_off);
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    uint8_t zeros[100] = {0};
    assert_int_equal(write(fd, zeros, sizeof zeros), (ssize_t)sizeof zeros);
    close(fd);
    assert_int_equal(lx_journal_open(&j, &info, dir, &fast), LX_OK);
    assert_int_equal(info.torn_records, 1);
    assert_int_equal(info.torn_bytes, 100);
    assert_int_equal(lx_journal_last_seq(j), 4);
    lx_journal_free(&j);

    /* A torn first record leaves an empty segment, which is removed. */
    dir = fresh("torn_first");
    write_journal(dir, 1, &fast);
    seg_file(path, sizeof path, dir, 1);
    cut_file(path, 5);
    assert_int_equal(lx_journal_open(&j, &info, dir, &fast), LX_OK);
    assert_int_equal(info.torn_records, 1);
    assert_int_equal(lx_journal_last_seq(j), 0);
    assert_int_equal(access(path, F_OK), -1);
    append_range(j, 1, 2);
    lx_journal_free(&j);
    assert_int_equal(lx_journal_open(&j, &info, dir, &fast), LX_OK);
    assert_int_equal(lx_journal_last_seq(j), 2);
    lx_journal_free(&j);
}

static void test_corrupt_refused(void **state)
{
    (void)state;
    char path[1024];
    const char *dir = fresh("corrupt");
    write_journal(dir, 5, &fast);
    seg_file(path, sizeof path, dir, 1);
    /* Find record 2's offset by reading record 1's length. */
    int fd = open(path, O_RDONLY);
    uint8_t h[4];
    assert_int_equal(pread(fd, h, 4, 0), 4);
    close(fd);
    uint64_t rec2 = 8 + ((uint64_t)h[0] << 24 | (uint64_t)h[1] << 16 | (uint64_t)h[2] << 8 | h[3]);
    uint64_t size = file_size(path);
    patch_byte(path, rec2 + 8 + 20, 0x01);

    lx_journal *j = NULL;
    lx_journal_info info;
    assert_int_equal(lx_journal_open(&j, &info, dir, &fast), LX_ECORRUPT);
    assert_null(j);
    assert_string_equal(info.path, path);
    assert_int_equal(info.offset, rec2);
    assert_string_equal(info.reason, "bad record checksum");
    assert_int_equal(file_size(path), size); /* nothing was cut */

    /* A bad length in the middle is corruption too, not a torn tail. */
    patch_byte(path, rec2 + 8 + 20, 0x01);
    patch_byte(path, rec2 + 3, 0x02);
    assert_int_equal(lx_journal_open(&j, &info, dir, &fast), LX_ECORRUPT);
    assert_int_equal(info.offset, rec2);
    patch_byte(path, rec2 + 3, 0x02);
    assert_int_equal(lx_journal_open(&j, &info, dir, &fast), LX_OK);
    lx_journal_free(&j);

    /* A torn record at the end of a segment that is not the last. */
    dir = fresh("corrupt_seg");
    lx_journal_opts o = {.no_fsync = 1, .segment_bytes = 400};
    write_journal(dir, 8, &o);
    seg_file(path, sizeof path, dir, 1);
    size = file_size(path);
    cut_file(path, size - 1);
    assert_int_equal(lx_journal_open(&j, &info, dir, &o), LX_ECORRUPT);
    assert_string_equal(info.path, path);

    /* A missing segment leaves a gap in the seqs. */
    dir = fresh("corrupt_gap");
    write_journal(dir, 8, &o);
    assert_int_equal(lx_journal_open(&j, &info, dir, &o), LX_OK);
    uint64_t nseg = lx_journal_segment_count(j);
    lx_journal_free(&j);
    assert_true(nseg >= 3);
    /* The second segment starts after the first's blocks: find it. */
    uint64_t second = 0;
    for (uint64_t s = 2; s <= 8 && !second; s++) {
        seg_file(path, sizeof path, dir, s);
        if (access(path, F_OK) == 0)
            second = s;
    }
    assert_true(second > 0);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(lx_journal_open(&j, &info, dir, &o), LX_ECORRUPT);
    assert_string_equal(info.reason, "block seq out of sequence");

    /* A segment named after the wrong seq. */
    dir = fresh("corrupt_name");
    write_journal(dir, 2, &fast);
    char other[1024];
    seg_file(path, sizeof path, dir, 1);
    seg_file(other, sizeof other, dir, 7);
    assert_int_equal(rename(path, other), 0);
    assert_int_equal(lx_journal_open(&j, &info, dir, &fast), LX_ECORRUPT);
    assert_string_equal(info.reason, "first block does not match the segment name");
}

static void test_truncate_after(void **state)
{
    (void)state;
    uint8_t buf[1024];
    size_t blen = make_block(buf, sizeof buf, 2);
    lx_journal_opts o = {.no_fsync = 1, .segment_bytes = 3 * (blen + 8)};
    const char *dir = fresh("trunc");
    write_journal(dir, 20, &o);
    lx_journal *j = NULL;
    assert_int_equal(lx_journal_open(&j, NULL, dir, &o), LX_OK);
    uint64_t segs = lx_journal_segment_count(j);
    assert_int_equal(lx_journal_truncate_after(j, 25), LX_OK); /* past the end: nothing */
    assert_int_equal(lx_journal_last_seq(j), 20);
    assert_int_equal(lx_journal_truncate_after(j, 13), LX_OK);
    assert_int_equal(lx_journal_last_seq(j), 13);
    assert_int_equal(lx_journal_next_index(j), 1 + 13 * 3);
    assert_true(lx_journal_segment_count(j) < segs);
    const uint8_t *data;
    size_t len;
    assert_int_equal(lx_journal_read(j, &data, &len, 14), LX_ENOTFOUND);
    assert_block(j, 13);
    /* The replacement history goes on from 14. */
    len = make_block(buf, sizeof buf, 15);
    assert_int_equal(lx_journal_append(j, buf, len), LX_ESTATE);
    append_range(j, 14, 16);
    lx_journal_free(&j);

    assert_int_equal(lx_journal_open(&j, NULL, dir, &o), LX_OK);
    assert_int_equal(lx_journal_last_seq(j), 16);
    for (uint64_t s = 1; s <= 16; s++)
        assert_block(j, s);
    /* At a segment boundary: the segment starting at 8 must go whole. */
    char path[1024];
    uint64_t boundary = 0;
    for (uint64_t s = 16; s > 1 && !boundary; s--) {
        seg_file(path, sizeof path, dir, s);
        if (access(path, F_OK) == 0)
            boundary = s;
    }
    assert_true(boundary > 1);
    assert_int_equal(lx_journal_truncate_after(j, boundary - 1), LX_OK);
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(lx_journal_last_seq(j), boundary - 1);
    append_range(j, boundary, boundary + 1);
    assert_int_equal(lx_journal_sync(j), LX_OK);
    /* Everything. */
    assert_int_equal(lx_journal_truncate_after(j, 0), LX_OK);
    assert_int_equal(lx_journal_last_seq(j), 0);
    assert_int_equal(lx_journal_segment_count(j), 0);
    append_range(j, 1, 3);
    lx_journal_free(&j);
    assert_int_equal(lx_journal_open(&j, NULL, dir, &o), LX_OK);
    assert_int_equal(lx_journal_last_seq(j), 3);
    assert_block(j, 3);
    lx_journal_free(&j);
}

/* Blocks 1-20 in segments of three blocks each, in a fresh folder named
 * name, opened; o and dir are what reopening it needs. */
static lx_journal *open_segmented(const char *name, lx_journal_opts *o, const char **dir)
{
    uint8_t buf[1024];
    size_t blen = make_block(buf, sizeof buf, 2);
    *o = (lx_journal_opts){.no_fsync = 1, .segment_bytes = 3 * (blen + 8)};
    *dir = fresh(name);
    write_journal(*dir, 20, o);
    lx_journal *j = NULL;
    assert_int_equal(lx_journal_open(&j, NULL, *dir, o), LX_OK);
    return j;
}

static void test_compaction(void **state)
{
    (void)state;
    lx_journal_opts o;
    const char *dir;
    lx_journal *j = open_segmented("compact", &o, &dir);
    uint64_t segs = lx_journal_segment_count(j), removed = 99;
    assert_int_equal(lx_journal_compact(j, &removed, 0), LX_OK);
    assert_int_equal(removed, 0);
    assert_int_equal(lx_journal_compact(j, &removed, 10), LX_OK);
    assert_true(removed >= 2);
    assert_int_equal(lx_journal_segment_count(j), segs - removed);
    uint64_t first = lx_journal_first_seq(j);
    assert_true(first > 1 && first <= 11); /* block 11 is kept */
    const uint8_t *data;
    size_t len;
    assert_int_equal(lx_journal_read(j, &data, &len, first - 1), LX_ENOTFOUND);
    for (uint64_t s = first; s <= 20; s++)
        assert_block(j, s);
    /* The last segment stays even when the snapshot covers it. */
    assert_int_equal(lx_journal_compact(j, &removed, 1000), LX_OK);
    assert_int_equal(lx_journal_segment_count(j), 1);
    assert_int_equal(lx_journal_last_seq(j), 20);
    uint64_t kept = lx_journal_first_seq(j);
    append_range(j, 21, 22);
    lx_journal_free(&j);
    assert_int_equal(lx_journal_open(&j, NULL, dir, &o), LX_OK);
    assert_int_equal(lx_journal_first_seq(j), kept);
    assert_int_equal(lx_journal_last_seq(j), 22);
    lx_journal_free(&j);
}

/* lx_journal_compact_fds: the same segments go, at most max at a time, and
 * each comes back as an open descriptor of a file no longer in the folder. */
static void test_compaction_fds(void **state)
{
    (void)state;
    lx_journal_opts o;
    const char *dir;
    lx_journal *j = open_segmented("compact-fds", &o, &dir);
    uint64_t segs = lx_journal_segment_count(j), removed = 99;
    int fds[8];
    size_t nfds = 99;
    assert_int_equal(lx_journal_compact_fds(j, &removed, 10, fds, 8, NULL), LX_EINVAL);
    assert_int_equal(lx_journal_compact_fds(j, &removed, 0, fds, 8, &nfds), LX_OK);
    assert_int_equal(removed, 0);
    assert_int_equal(nfds, 0);
    /* Block 10 lets at least two segments go: one now (max 1), the rest next. */
    assert_int_equal(lx_journal_compact_fds(j, &removed, 10, fds, 1, &nfds), LX_OK);
    assert_int_equal(removed, 1);
    assert_int_equal(nfds, 1);
    struct stat st;
    assert_int_equal(fstat(fds[0], &st), 0);
    assert_int_equal(st.st_nlink, 0); /* unlinked, still open */
    assert_true(st.st_size > 0);
    close(fds[0]);
    assert_int_equal(lx_journal_segment_count(j), segs - 1);
    assert_int_equal(lx_journal_compact_fds(j, &removed, 10, fds, 8, &nfds), LX_OK);
    assert_true(removed >= 1);
    assert_int_equal(nfds, removed);
    for (size_t i = 0; i < nfds; i++) {
        assert_int_equal(fstat(fds[i], &st), 0);
        assert_int_equal(st.st_nlink, 0);
        close(fds[i]);
    }
    uint64_t first = lx_journal_first_seq(j);
    assert_true(first > 1 && first <= 11);
    for (uint64_t s = first; s <= 20; s++)
        assert_block(j, s);
    lx_journal_free(&j);
    /* The folder agrees: a reopened journal starts at the same block. */
    assert_int_equal(lx_journal_open(&j, NULL, dir, &o), LX_OK);
    assert_int_equal(lx_journal_first_seq(j), first);
    assert_int_equal(lx_journal_last_seq(j), 20);
    lx_journal_free(&j);
}

/* ---- snapshots ---- */

static void test_snapshots(void **state)
{
    (void)state;
    const char *dir = fresh("snap");
    lx_snapshot_meta m = {.seq = 5, .next_index = 16};
    memset(m.state_hash, 0xab, sizeof m.state_hash);
    uint8_t bytes5[100], bytes10[300];
    for (size_t i = 0; i < sizeof bytes5; i++)
        bytes5[i] = (uint8_t)i;
    for (size_t i = 0; i < sizeof bytes10; i++)
        bytes10[i] = (uint8_t)(i * 7);
    lx_snapshot_meta got;
    uint8_t *eng;
    size_t len;
    uint64_t skipped = 0;
    assert_int_equal(lx_snapshot_load(&got, &eng, &len, NULL, NULL, &skipped, dir, UINT64_MAX),
                     LX_ENOTFOUND);
    assert_int_equal(lx_snapshot_write(dir, &m, bytes5, sizeof bytes5, NULL, 0), LX_OK);
    m.seq = 10;
    m.next_index = 31;
    m.state_hash[0] = 0x01;
    assert_int_equal(lx_snapshot_write(dir, &m, bytes10, sizeof bytes10, NULL, 0), LX_OK);

    assert_int_equal(lx_snapshot_load(&got, &eng, &len, NULL, NULL, &skipped, dir, UINT64_MAX),
                     LX_OK);
    assert_int_equal(got.seq, 10);
    assert_int_equal(got.next_index, 31);
    assert_memory_equal(got.state_hash, m.state_hash, 32);
    assert_int_equal(len, sizeof bytes10);
    assert_memory_equal(eng, bytes10, len);
    free(eng);
    assert_int_equal(lx_snapshot_load(&got, &eng, &len, NULL, NULL, &skipped, dir, 9), LX_OK);
    assert_int_equal(got.seq, 5);
    assert_int_equal(got.next_index, 16);
    assert_memory_equal(eng, bytes5, len);
    free(eng);
    assert_int_equal(skipped, 0);

    /* A corrupt newest snapshot is passed over for the older valid one. */
    char path[1024];
    snprintf(path, sizeof path, "%s/snapshots/%020d.snap", dir, 10);
    patch_byte(path, 64 + 17, 0x10);
    assert_int_equal(lx_snapshot_load(&got, &eng, &len, NULL, NULL, &skipped, dir, UINT64_MAX),
                     LX_OK);
    assert_int_equal(got.seq, 5);
    assert_int_equal(skipped, 1);
    free(eng);
    /* So is a truncated one, and one whose name disagrees with its seq. */
    patch_byte(path, 64 + 17, 0x10);
    cut_file(path, file_size(path) - 1);
    skipped = 0;
    assert_int_equal(lx_snapshot_load(&got, &eng, &len, NULL, NULL, &skipped, dir, UINT64_MAX),
                     LX_OK);
    assert_int_equal(got.seq, 5);
    free(eng);
    char moved[1024];
    snprintf(moved, sizeof moved, "%s/snapshots/%020d.snap", dir, 12);
    snprintf(path, sizeof path, "%s/snapshots/%020d.snap", dir, 5);
    assert_int_equal(rename(path, moved), 0);
    skipped = 0;
    assert_int_equal(lx_snapshot_load(&got, &eng, &len, NULL, NULL, &skipped, dir, UINT64_MAX),
                     LX_ENOTFOUND);
    assert_int_equal(skipped, 2);

    /* Rewrite, then prune to the newest. */
    m.seq = 5;
    assert_int_equal(lx_snapshot_write(dir, &m, bytes5, sizeof bytes5, NULL, 0), LX_OK);
    m.seq = 6;
    assert_int_equal(lx_snapshot_write(dir, &m, NULL, 0, NULL, 0), LX_OK);
    assert_int_equal(lx_snapshot_prune(dir, 1), LX_OK);
    assert_int_equal(lx_snapshot_load(&got, &eng, &len, NULL, NULL, NULL, dir, UINT64_MAX), LX_OK);
    assert_int_equal(got.seq, 6); /* 12 was invalid and is pruned too */
    assert_int_equal(len, 0);
    free(eng);
    assert_int_equal(access(moved, F_OK), -1);
    assert_int_equal(lx_snapshot_load(&got, &eng, &len, NULL, NULL, NULL, dir, 5), LX_ENOTFOUND);
    assert_int_equal(lx_snapshot_write(dir, &m, NULL, 0, NULL, 0), LX_OK);
    m.seq = 0;
    assert_int_equal(lx_snapshot_write(dir, &m, NULL, 0, NULL, 0), LX_EINVAL);
    assert_int_equal(lx_snapshot_prune(dir, 0), LX_EINVAL);
}

/* ---- recovery ---- */

typedef struct straight {
    uint8_t hash[32];
    uint8_t *snap; /* engine snapshot bytes at the end */
    size_t snap_len;
} straight;

/* Applies blocks 1..n to a fresh engine without any journal. Writes a
 * snapshot into dir after block snap_at (0: none). */
static void run_straight(straight *out, uint64_t n, const char *dir, uint64_t snap_at)
{
    lx_engine_config cfg = {0};
    lx_engine *e = NULL;
    assert_int_equal(lx_engine_new(&e, &cfg), LX_OK);
    lx_events evs;
    lx_events_init(&evs);
    lx_block b;
    lx_block_init(&b);
    memset(out->hash, 0, 32);
    uint8_t buf[1024];
    for (uint64_t s = 1; s <= n; s++) {
        size_t len = make_block(buf, sizeof buf, s);
        assert_int_equal(lx_block_decode(&b, buf, len), LX_OK);
        lx_events_clear(&evs);
        assert_int_equal(lx_block_apply(e, &evs, out->hash, &b), LX_OK);
        if (s == snap_at) {
            lx_snapshot_meta m = {.seq = s, .next_index = b.hdr.first_index + b.hdr.count};
            memcpy(m.state_hash, out->hash, 32);
            uint8_t *bytes;
            size_t blen;
            assert_int_equal(lx_engine_snapshot(e, &bytes, &blen), LX_OK);
            assert_int_equal(lx_snapshot_write(dir, &m, bytes, blen, NULL, 0), LX_OK);
            free(bytes);
        }
    }
    assert_int_equal(lx_engine_snapshot(e, &out->snap, &out->snap_len), LX_OK);
    lx_block_free(&b);
    lx_events_free(&evs);
    lx_engine_free(&e);
}

static void assert_recovers(const char *dir, const straight *want, uint64_t last,
                            uint64_t snapshot_seq, uint64_t skipped)
{
    lx_engine_config cfg = {0};
    lx_journal *j = NULL;
    lx_recovery r;
    char err[256];
    assert_int_equal(lx_recover(&j, &r, err, sizeof err, dir, &fast, &cfg), LX_OK);
    assert_non_null(j);
    assert_int_equal(r.last_seq, last);
    assert_int_equal(r.next_index, 1 + last * 3);
    assert_int_equal(r.snapshot_seq, snapshot_seq);
    assert_int_equal(r.blocks_replayed, last - snapshot_seq);
    assert_int_equal(r.snapshots_skipped, skipped);
    assert_memory_equal(r.state_hash, want->hash, 32);
    uint8_t *bytes;
    size_t blen;
    assert_int_equal(lx_engine_snapshot(r.engine, &bytes, &blen), LX_OK);
    assert_int_equal(blen, want->snap_len);
    assert_memory_equal(bytes, want->snap, blen);
    free(bytes);
    lx_engine_free(&r.engine);
    lx_journal_free(&j);
}

static void test_recovery(void **state)
{
    (void)state;
    const char *dir = fresh("recover");
    straight want;
    write_journal(dir, 30, &fast);
    run_straight(&want, 30, dir, 0);
    assert_recovers(dir, &want, 30, 0, 0);
    free(want.snap);

    /* With snapshots at 10 and 20: starts from 20. */
    run_straight(&want, 30, dir, 10);
    free(want.snap);
    run_straight(&want, 30, dir, 20);
    assert_recovers(dir, &want, 30, 20, 0);

    /* The snapshot at 20 corrupt: starts from 10, same state. */
    char path[1024];
    snprintf(path, sizeof path, "%s/snapshots/%020d.snap", dir, 20);
    patch_byte(path, 70, 0x04);
    assert_recovers(dir, &want, 30, 10, 1);
    patch_byte(path, 70, 0x04);

    /* Compacted below 20 with a snapshot at 20: fine. */
    lx_journal_opts o = {.no_fsync = 1, .segment_bytes = 500};
    const char *dir2 = fresh("recover_compact");
    write_journal(dir2, 30, &o);
    free(want.snap);
    run_straight(&want, 30, dir2, 20);
    lx_journal *j = NULL;
    assert_int_equal(lx_journal_open(&j, NULL, dir2, &o), LX_OK);
    assert_int_equal(lx_journal_compact(j, NULL, 20), LX_OK);
    assert_true(lx_journal_first_seq(j) > 1);
    lx_journal_free(&j);
    assert_recovers(dir2, &want, 30, 20, 0);

    /* The same with the only snapshot corrupt: the journal has a gap. */
    snprintf(path, sizeof path, "%s/snapshots/%020d.snap", dir2, 20);
    patch_byte(path, 70, 0x04);
    lx_recovery r;
    char err[256];
    lx_engine_config cfg = {0};
    assert_int_equal(lx_recover(&j, &r, err, sizeof err, dir2, &fast, &cfg), LX_ECORRUPT);
    assert_null(j);
    assert_non_null(strstr(err, "no usable snapshot"));

    /* A snapshot ahead of a truncated journal is not used. */
    assert_int_equal(lx_journal_open(&j, NULL, dir, &fast), LX_OK);
    assert_int_equal(lx_journal_truncate_after(j, 15), LX_OK);
    lx_journal_free(&j);
    free(want.snap);
    run_straight(&want, 15, dir, 0);
    assert_recovers(dir, &want, 15, 10, 1);

    /* An empty data folder recovers to an empty engine. */
    free(want.snap);
    run_straight(&want, 0, dir, 0);
    assert_recovers(fresh("recover_empty"), &want, 0, 0, 0);
    free(want.snap);

    /* A corrupt journal is reported with its file and offset. */
    const char *dir3 = fresh("recover_bad");
    write_journal(dir3, 5, &fast);
    seg_file(path, sizeof path, dir3, 1);
    patch_byte(path, 30, 0x01);
    assert_int_equal(lx_recover(&j, &r, err, sizeof err, dir3, &fast, &cfg), LX_ECORRUPT);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "offset 0"));
}

/* A snapshot installed by state sync: the journal emptied, the snapshot at
 * 20 alone. Recovery starts from it, the journal takes block 21 next, and a
 * later restart replays 21..30 on top of the snapshot to the straight
 * run's state. */
static void test_recovery_installed_snapshot(void **state)
{
    (void)state;
    const char *dir = fresh("installed");
    write_journal(dir, 7, &fast); /* what the node held before */
    straight want;
    run_straight(&want, 20, dir, 20);
    lx_journal *j = NULL;
    assert_int_equal(lx_journal_open(&j, NULL, dir, &fast), LX_OK);
    assert_int_equal(lx_journal_truncate_after(j, 0), LX_OK);
    assert_int_equal(lx_journal_first_seq(j), 0);
    lx_journal_free(&j);
    assert_recovers(dir, &want, 20, 20, 0);
    free(want.snap);

    lx_engine_config cfg = {0};
    lx_recovery r;
    char err[256];
    assert_int_equal(lx_recover(&j, &r, err, sizeof err, dir, &fast, &cfg), LX_OK);
    lx_engine_free(&r.engine);
    assert_int_equal(lx_journal_last_seq(j), 0);
    /* seq and entry index continue the snapshot */
    assert_int_equal(r.next_index, 1 + 20 * 3);
    append_range(j, 21, 30);
    assert_int_equal(lx_journal_sync(j), LX_OK);
    assert_int_equal(lx_journal_first_seq(j), 21);
    lx_journal_free(&j);
    run_straight(&want, 30, fresh("installed_straight"), 0);
    assert_recovers(dir, &want, 30, 20, 0);
    free(want.snap);
}

/* ---- the lx-journal tool ---- */

/* Runs a shell command and returns its exit status, its output in out. */
static int run_cmd(char *out, size_t cap, const char *cmd)
{
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_tool(void **state)
{
    (void)state;
    const char *bin = getenv("LX_BIN");
    char tool[1024], cmd[2048];
    snprintf(tool, sizeof tool, "%s/lx-journal", bin ? bin : "bin");
    if (access(tool, X_OK) != 0) {
        fprintf(stderr, "lx-journal not built at %s\n", tool);
        fail();
    }
    const char *dir = fresh("tool");
    write_journal(dir, 12, &fast);
    straight want;
    run_straight(&want, 12, dir, 0);
    free(want.snap);
    char hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", want.hash[i]);

    static char out[1 << 16];
    snprintf(cmd, sizeof cmd, "%s --data-dir %s --verify", tool, dir);
    assert_int_equal(run_cmd(out, sizeof out, cmd), 0);
    assert_non_null(strstr(out, "\"ok\":true"));
    assert_non_null(strstr(out, "\"last_seq\":12,\"blocks\":12,\"entries\":36"));
    assert_non_null(strstr(out, hex));

    /* One line per entry of blocks 2..3, each with its seq. */
    snprintf(cmd, sizeof cmd, "%s --data-dir %s --commands --from 2 --to 3", tool, dir);
    assert_int_equal(run_cmd(out, sizeof out, cmd), 0);
    size_t lines = 0;
    for (char *c = out; *c; c++)
        lines += *c == '\n';
    assert_int_equal(lines, 6);
    assert_non_null(
        strstr(out, "{\"op\":\"order\",\"id\":20,\"account\":\"1\",\"market\":\"BTC-USD\""));
    assert_non_null(strstr(out, "\"seq\":3}"));
    assert_null(strstr(out, "\"seq\":4}"));

    /* Events of block 1: the market and two deposits. */
    snprintf(cmd, sizeof cmd, "%s --data-dir %s --to 1", tool, dir);
    assert_int_equal(run_cmd(out, sizeof out, cmd), 0);
    assert_non_null(strstr(out, "{\"ev\":\"market\",\"market\":\"BTC-USD\""));
    assert_non_null(strstr(out, "\"ev\":\"deposit\""));

    /* A corrupt record: exit 3, and nothing is changed on disk. */
    char path[1024];
    seg_file(path, sizeof path, dir, 1);
    uint64_t size = file_size(path);
    patch_byte(path, 40, 0x01);
    snprintf(cmd, sizeof cmd, "%s --data-dir %s --verify 2>/dev/null", tool, dir);
    assert_int_equal(run_cmd(out, sizeof out, cmd), 3);
    assert_non_null(strstr(out, "\"ok\":false"));
    assert_int_equal(file_size(path), size);

    /* A missing folder and bad usage. */
    snprintf(cmd, sizeof cmd, "%s --data-dir %s/nowhere 2>/dev/null", tool, dir);
    assert_int_equal(run_cmd(out, sizeof out, cmd), 1);
    snprintf(cmd, sizeof cmd, "%s --from x --data-dir %s 2>/dev/null", tool, dir);
    assert_int_equal(run_cmd(out, sizeof out, cmd), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_sync_reopen),
        cmocka_unit_test(test_read_range),
        cmocka_unit_test(test_rotation),
        cmocka_unit_test(test_torn_tail_every_cut),
        cmocka_unit_test(test_corrupt_refused),
        cmocka_unit_test(test_truncate_after),
        cmocka_unit_test(test_compaction),
        cmocka_unit_test(test_compaction_fds),
        cmocka_unit_test(test_snapshots),
        cmocka_unit_test(test_recovery),
        cmocka_unit_test(test_recovery_installed_snapshot),
        cmocka_unit_test(test_tool),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
