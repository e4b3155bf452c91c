/* Tests for the settlement section of a snapshot (node/settle_snap.c) and
 * the start that uses it (lx__settle_init): a journal of trades, chain
 * deposits, a withdrawal, batch closes and settlements; settlement rebuilt
 * from a snapshot's section plus the blocks after it reaches exactly the
 * state (closed, settled, queue, UTXOs, change, deposits, open batch) and
 * the batch files of a replay from block 1, also with the journal compacted
 * and with the files gone; an old snapshot without a section falls back to
 * block 1; a compacted journal without a section is refused; a section
 * truncated, with any byte changed, or consistent but wrong is refused and
 * changes nothing; a halted settlement takes no snapshot. */
#define _GNU_SOURCE /* memmem */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../node/settle_state.h"
#include "test_fs.h"

#define LAST 48 /* blocks in the journal */
#define SNAP 30 /* the snapshot's block: batch 2 closed, not settled */

static char dir[64];
static uint8_t hashes[LAST + 1][LX_STATE_HASH_LEN]; /* state hash after each block */
static uint64_t next_index[LAST + 1];
static uint8_t *engine_at_snap;
static size_t engine_at_snap_len;
static uint8_t lux[32], usd[32];

static void put_file(const char *name, const char *text, mode_t mode)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static lx_entry market(void)
{
    lx_entry e;
    memset(&e, 0, sizeof e);
    e.is_market = 1;
    snprintf(e.market.name, sizeof e.market.name, "LUX-USD");
    snprintf(e.market.base, sizeof e.market.base, "LUX");
    snprintf(e.market.quote, sizeof e.market.quote, "USD");
    e.market.lot = 1;
    e.market.tick = 1;
    e.market.min_qty = 1;
    e.market.maker_fee_bps = 10;
    e.market.taker_fee_bps = 20;
    return e;
}

static lx_entry chain_deposit(uint64_t account, const char *asset, uint64_t amount, uint8_t tx)
{
    lx_entry e;
    memset(&e, 0, sizeof e);
    e.cmd.type = LX_ENTRY_CHAIN_DEPOSIT;
    e.cmd.u.transfer.account = account;
    e.cmd.u.transfer.amount = amount;
    snprintf(e.cmd.u.transfer.asset, sizeof e.cmd.u.transfer.asset, "%s", asset);
    memset(e.settle.tx_id, tx, 32);
    e.settle.index = tx % 3;
    return e;
}

static lx_entry withdraw_to(uint64_t account, uint64_t amount)
{
    lx_entry e;
    memset(&e, 0, sizeof e);
    e.cmd.type = LX_ENTRY_WITHDRAW_TO;
    e.cmd.u.transfer.account = account;
    e.cmd.u.transfer.amount = amount;
    snprintf(e.cmd.u.transfer.asset, sizeof e.cmd.u.transfer.asset, "USD");
    memset(e.settle.dest, 0x5d, 20);
    return e;
}

static lx_entry order(uint64_t id, uint64_t account, uint8_t side, uint64_t price, uint64_t qty)
{
    lx_entry e;
    memset(&e, 0, sizeof e);
    e.cmd.type = LX_CMD_ORDER;
    e.cmd.u.order.id = id;
    e.cmd.u.order.account = account;
    e.cmd.u.order.side = side;
    e.cmd.u.order.type = LX_LIMIT;
    e.cmd.u.order.tif = LX_GTC;
    e.cmd.u.order.stp = LX_STP_EXPIRE_MAKER;
    e.cmd.u.order.price = price;
    e.cmd.u.order.qty = qty;
    return e;
}

static lx_entry settle_entry(uint8_t type, uint64_t number)
{
    lx_entry e;
    memset(&e, 0, sizeof e);
    e.cmd.type = type;
    e.settle.number = number;
    e.settle.now = 1800000000;
    memset(e.settle.tx_id, (uint8_t)(0x70 + number), 32);
    return e;
}

/* The entries of block seq. */
static size_t block_entries(lx_entry *v, uint64_t seq)
{
    size_t n = 0;
    if (seq == 1)
        v[n++] = market();
    else if (seq == 2) {
        v[n++] = chain_deposit(1, "USD", 5000000, 0xd1);
        v[n++] = chain_deposit(2, "LUX", 5000000, 0xd2);
    } else if (seq == 12 || seq == 27 || seq == 38) {
        v[n++] = settle_entry(LX_ENTRY_BATCH_CLOSE, seq == 12 ? 1 : seq == 27 ? 2 : 3);
    } else if (seq == 16 || seq == 35) {
        v[n++] = settle_entry(LX_ENTRY_BATCH_SETTLED, seq == 16 ? 1 : 2);
    } else if (seq == 20) {
        v[n++] = withdraw_to(1, 1234);
        v[n++] = withdraw_to(1, 999999999); /* rejected: not in the batch */
    } else if (seq == 33) {
        v[n++] = chain_deposit(3, "LUX", 777, 0xd3);
    } else if (seq == 44) {
        v[n++] = withdraw_to(2, 55); /* account 2 has USD from its sales */
    }
    if (seq >= 3 && seq % 3 != 0) { /* a trade in most blocks */
        v[n++] = order(seq * 10, 2, LX_SELL, 100 + seq % 7, 3);
        v[n++] = order(seq * 10 + 1, 1, LX_BUY, 110, 2 + seq % 2);
    }
    return n;
}

/* Writes the journal (small segments, so it compacts) and remembers the
 * state hash after each block and the engine at SNAP. */
static void write_journal(void)
{
    lx_journal *j = NULL;
    lx_journal_opts o = {.segment_bytes = 1024, .no_fsync = 1};
    assert_int_equal(lx_journal_open(&j, NULL, dir, &o), LX_OK);
    lx_engine *e = NULL;
    lx_engine_config ec = {0};
    assert_int_equal(lx_engine_new(&e, &ec), LX_OK);
    lx_events evs;
    lx_events_init(&evs);
    lx_block b;
    lx_block_init(&b);
    uint8_t hash[LX_STATE_HASH_LEN] = {0};
    uint64_t index = 1;
    for (uint64_t seq = 1; seq <= LAST; seq++) {
        lx_entry v[8];
        size_t n = block_entries(v, seq);
        lx_block_hdr h = {.seq = seq, .term = 1, .timestamp_us = seq * 1000, .first_index = index};
        uint8_t buf[2048];
        size_t len;
        assert_int_equal(lx_block_encode(buf, sizeof buf, &len, &h, v, n), LX_OK);
        assert_int_equal(lx_journal_append(j, buf, len), LX_OK);
        assert_int_equal(lx_block_decode(&b, buf, len), LX_OK);
        lx_events_clear(&evs);
        assert_int_equal(lx_block_apply(e, &evs, hash, &b), LX_OK);
        memcpy(hashes[seq], hash, sizeof hash);
        index += n;
        next_index[seq] = index;
        if (seq == SNAP)
            assert_int_equal(lx_engine_snapshot(e, &engine_at_snap, &engine_at_snap_len), LX_OK);
    }
    assert_int_equal(lx_journal_sync(j), LX_OK);
    lx_journal_free(&j);
    lx_block_free(&b);
    lx_events_free(&evs);
    lx_engine_free(&e);
}

static int setup(void **state)
{
    (void)state;
    lx_test_tmpdir(dir, sizeof dir, "lx-settle-snap");
    lx_key *key = NULL;
    assert_int_equal(lx_key_generate(&key), LX_OK);
    char path[256], owner[LX_ADDR_STR_MAX], chain[LX_CB58_ID_MAX], a[LX_CB58_ID_MAX],
        b[LX_CB58_ID_MAX], t1[LX_CB58_ID_MAX], t2[LX_CB58_ID_MAX];
    snprintf(path, sizeof path, "%s/node.key", dir);
    assert_int_equal(lx_keyfile_write(key, path), LX_OK);
    uint8_t addr[20], id[32];
    assert_int_equal(lx_key_address(key, addr), LX_OK);
    lx_key_free(&key);
    assert_int_equal(lx_address_encode(owner, sizeof owner, "X", "local", addr), LX_OK);
    memset(id, 0x11, 32);
    lx_id_to_cb58(chain, id);
    memset(lux, 0xa1, 32);
    memset(usd, 0xb2, 32);
    lx_id_to_cb58(a, lux);
    lx_id_to_cb58(b, usd);
    memset(id, 0xf1, 32);
    lx_id_to_cb58(t1, id);
    memset(id, 0xf2, 32);
    lx_id_to_cb58(t2, id);
    char text[2048];
    snprintf(text, sizeof text,
             "{\"network_id\":12345,\"blockchain_id\":\"%s\",\"hrp\":\"local\","
             "\"owners\":[\"%s\"],\"threshold\":1,\"fee_asset\":\"%s\",\"tx_fee\":1000,"
             "\"assets\":{\"LUX\":\"%s\",\"USD\":\"%s\"},"
             "\"funding\":[{\"txID\":\"%s\",\"outputIndex\":0,\"assetID\":\"%s\","
             "\"amount\":\"900000000\"},{\"txID\":\"%s\",\"outputIndex\":1,\"assetID\":\"%s\","
             "\"amount\":\"800000000\"}]}",
             chain, owner, a, a, b, t1, a, t2, b);
    put_file("channel.json", text, 0644);
    write_journal();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(engine_at_snap);
    return lx_test_rm_rf(dir);
}

/* ---- a node, as far as settlement needs one ---- */

static lx__node *node_at(uint64_t seq)
{
    lx__node *n = calloc(1, sizeof *n);
    assert_non_null(n);
    snprintf(n->cfg.node_id, sizeof n->cfg.node_id, "t");
    snprintf(n->cfg.data_dir, sizeof n->cfg.data_dir, "%s", dir);
    snprintf(n->cfg.settle.channel_file, sizeof n->cfg.settle.channel_file, "%s/channel.json", dir);
    snprintf(n->cfg.settle.key_file, sizeof n->cfg.settle.key_file, "%s/node.key", dir);
    n->seq = seq;
    memcpy(n->hash, hashes[seq], LX_STATE_HASH_LEN);
    return n;
}

static lx_journal *open_journal(void)
{
    lx_journal *j = NULL;
    lx_journal_opts o = {.segment_bytes = 1024, .no_fsync = 1};
    assert_int_equal(lx_journal_open(&j, NULL, dir, &o), LX_OK);
    return j;
}

/* Starts settlement at seq; returns its section (the whole state). */
static uint8_t *start_at(uint64_t seq, size_t *len, lx_err want)
{
    lx__node *n = node_at(seq);
    lx_journal *j = open_journal();
    assert_int_equal(lx__settle_init(n, j), want);
    uint8_t *sec = NULL;
    *len = 0;
    if (want == LX_OK)
        assert_int_equal(lx__settle_encode(n->settle, seq, &sec, len), LX_OK);
    lx__settle_free(n);
    lx_journal_free(&j);
    free(n);
    return sec;
}

/* The settle folder's files, names and contents, in one buffer. */
typedef struct blob {
    char *p;
    size_t n;
} blob;

static blob settle_files(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/settle", dir);
    struct dirent **names = NULL;
    int k = scandir(path, &names, NULL, alphasort);
    assert_true(k >= 0);
    size_t cap = 1 << 18;
    blob b = {calloc(1, cap), 0};
    for (int i = 0; i < k; i++) {
        if (names[i]->d_name[0] != '.') {
            char p[512];
            snprintf(p, sizeof p, "%s/%s", path, names[i]->d_name);
            FILE *f = fopen(p, "rb");
            assert_non_null(f);
            b.n += (size_t)snprintf(b.p + b.n, cap - b.n, "== %s\n", names[i]->d_name);
            b.n += fread(b.p + b.n, 1, cap - b.n - 1, f);
            fclose(f);
            assert_true(b.n < cap - 256);
        }
        free(names[i]);
    }
    free(names);
    return b;
}

static int same_files(blob a, blob b)
{
    return a.n == b.n && memcmp(a.p, b.p, a.n) == 0;
}

/* The part of b from the header line of file `from` up to that of `to`. */
static blob part(blob b, const char *from, const char *to)
{
    char *s = memmem(b.p, b.n, from, strlen(from));
    assert_non_null(s);
    char *e = memmem(s, b.n - (size_t)(s - b.p), to, strlen(to));
    assert_non_null(e);
    return (blob){s, (size_t)(e - s)};
}

static int holds(blob b, blob what)
{
    return memmem(b.p, b.n, what.p, what.n) != NULL;
}

static int has(blob b, const char *text)
{
    return memmem(b.p, b.n, text, strlen(text)) != NULL;
}

static void rm_settle(const char *pattern)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -f %s/settle/%s", dir, pattern);
    assert_int_equal(system(cmd), 0);
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* ---- the tests, in order: they share the data dir ---- */

static uint8_t *full; /* the state after LAST, replayed from block 1 */
static size_t full_len;
static blob full_files;

static void test_replay_from_block_1(void **state)
{
    (void)state;
    full = start_at(LAST, &full_len, LX_OK);
    /* closed 3, settled 2: batch 3 queued; change and UTXOs; an open batch */
    assert_int_equal(get64(full + 48), 3);
    assert_int_equal(get64(full + 56), 2);
    full_files = settle_files();
    assert_true(has(full_files, "== 00000000000000000003.batch"));
    assert_true(has(full_files, "== 00000000000000000002.times"));
    assert_true(has(full_files, "\"status\":\"accepted\""));
    /* Started again the same way: the same state and files. */
    size_t len;
    uint8_t *again = start_at(LAST, &len, LX_OK);
    assert_int_equal(len, full_len);
    assert_memory_equal(again, full, len);
    free(again);
    blob files = settle_files();
    assert_true(same_files(files, full_files));
    free(files.p);
}

/* Writes the snapshot at SNAP, with the section settlement makes there
 * (none when bare). */
static void write_snapshot(int bare)
{
    lx__node *n = node_at(SNAP);
    lx_journal *j = open_journal();
    assert_int_equal(lx__settle_init(n, j), LX_OK);
    uint8_t *sec = NULL;
    size_t len = 0;
    uint64_t from = 0, to = 0;
    assert_int_equal(lx__settle_snapshot(n, &sec, &len, &from, &to), LX_OK);
    assert_int_equal(from, 1); /* replayed from block 1: every file */
    assert_int_equal(to, 2);
    lx_snapshot_meta m = {.seq = SNAP, .next_index = next_index[SNAP]};
    memcpy(m.state_hash, hashes[SNAP], LX_STATE_HASH_LEN);
    assert_int_equal(lx_snapshot_write(dir, &m, engine_at_snap, engine_at_snap_len,
                                       bare ? NULL : sec, bare ? 0 : len),
                     LX_OK);
    free(sec);
    lx__settle_free(n);
    lx_journal_free(&j);
    free(n);
}

static void test_old_snapshot_falls_back(void **state)
{
    (void)state;
    write_snapshot(1);
    size_t len;
    uint8_t *got = start_at(LAST, &len, LX_OK);
    assert_int_equal(len, full_len);
    assert_memory_equal(got, full, len);
    free(got);
}

static void test_restart_from_snapshot(void **state)
{
    (void)state;
    write_snapshot(0);
    /* The files as the start at SNAP left them (batch 2 closed, not yet
     * settled): the blocks after SNAP must bring them up to date. */
    blob mid = settle_files();
    assert_false(same_files(mid, full_files));
    free(mid.p);
    size_t len;
    uint8_t *got = start_at(LAST, &len, LX_OK);
    assert_int_equal(len, full_len);
    assert_memory_equal(got, full, len);
    free(got);
    blob files = settle_files();
    assert_true(same_files(files, full_files));
    free(files.p);
    /* A start at the snapshot's own block replays nothing. */
    uint8_t *at = start_at(SNAP, &len, LX_OK);
    assert_int_equal(get64(at + 8), SNAP);
    assert_int_equal(get64(at + 48), 2);
    assert_int_equal(get64(at + 56), 1);
    free(at);
}

static void test_compacted_journal(void **state)
{
    (void)state;
    lx_journal *j = open_journal();
    uint64_t removed = 0;
    assert_int_equal(lx_journal_compact(j, &removed, SNAP), LX_OK);
    assert_true(removed > 0);
    assert_true(lx_journal_first_seq(j) > 1 && lx_journal_first_seq(j) <= SNAP + 1);
    lx_journal_free(&j);
    size_t len;
    uint8_t *got = start_at(LAST, &len, LX_OK);
    assert_int_equal(len, full_len);
    assert_memory_equal(got, full, len);
    free(got);
    blob files = settle_files();
    assert_true(same_files(files, full_files));
    free(files.p);

    /* A node that has the snapshot and the blocks after it but no files
     * (it installed the snapshot by state sync): the queued batch's files
     * come from the section, the later ones from the blocks; those of
     * batches settled before the snapshot are not there. */
    rm_settle("*");
    got = start_at(LAST, &len, LX_OK);
    assert_memory_equal(got, full, len);
    free(got);
    files = settle_files();
    assert_false(has(files, "== 00000000000000000001."));
    assert_false(has(files, "== 00000000000000000002.times"));
    /* .batch and .json of batch 2 as a replay from block 1 writes them */
    assert_true(holds(
        files, part(full_files, "== 00000000000000000002.batch", "== 00000000000000000002.times")));
    assert_true(holds(
        files, part(full_files, "== 00000000000000000003.batch", "== 00000000000000000003.times")));
    free(files.p);

    /* Without a usable section the compacted journal cannot be replayed. */
    char path[256];
    snprintf(path, sizeof path, "%s/snapshots/%020d.snap", dir, SNAP);
    assert_int_equal(unlink(path), 0);
    assert_null(start_at(LAST, &len, LX_ECORRUPT));
}

/* ---- the section's decoder ---- */

static lx__node *live;
static lx_engine *snap_engine;

static lx_err restore(const uint8_t *buf, size_t len)
{
    char why[256] = "";
    lx_err rc = lx__settle_restore(live->settle, buf, len, SNAP, snap_engine, why, sizeof why);
    if (rc != LX_OK)
        assert_true(why[0] != 0);
    return rc;
}

static void fix_sum(uint8_t *buf, size_t len)
{
    assert_int_equal(lx_sha256(buf + len - 32, buf, len - 32), LX_OK);
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Where the first queued batch's file and the builder start in a section. */
static void locate(const uint8_t *sec, size_t *qfile, size_t *bb)
{
    size_t off = 144;
    off += 4 + get32(sec + off) * 84; /* change */
    off += 4 + get32(sec + off) * 84; /* channel UTXOs */
    off += 4 + get32(sec + off) * 84; /* deposits */
    off += 4 + get32(sec + off) * 24; /* fill times */
    assert_int_equal(get32(sec + off), 1);
    *qfile = off + 4 + 8 + 4;
    *bb = *qfile + get32(sec + off + 12) + 4;
}

static void test_section_refused(void **state)
{
    (void)state;
    /* A section for SNAP, from a start at SNAP over a full journal. */
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s/journal %s/snapshots %s/settle", dir, dir, dir);
    assert_int_equal(system(cmd), 0);
    free(engine_at_snap);
    write_journal();
    live = node_at(SNAP);
    lx_journal *j = open_journal();
    assert_int_equal(lx__settle_init(live, j), LX_OK);
    lx_journal_free(&j);
    assert_int_equal(lx_engine_restore(&snap_engine, engine_at_snap, engine_at_snap_len), LX_OK);
    uint8_t *sec = NULL, *after = NULL;
    size_t len, alen;
    assert_int_equal(lx__settle_encode(live->settle, SNAP, &sec, &len), LX_OK);
    uint8_t *c = malloc(len);
    assert_int_equal(restore(sec, len), LX_OK);

    /* Cut short, with or without a checksum made right for the cut; each
     * copy is exactly that long, so ASan sees a read past it. */
    for (size_t n = 0; n < len; n++) {
        uint8_t *cut = malloc(n ? n : 1);
        memcpy(cut, sec, n);
        assert_int_equal(restore(cut, n), LX_ECORRUPT);
        if (n >= 40) {
            fix_sum(cut, n);
            assert_int_equal(restore(cut, n), LX_ECORRUPT);
        }
        free(cut);
    }
    /* Any changed byte, the checksum left as it was. */
    for (size_t i = 0; i < len; i++) {
        memcpy(c, sec, len);
        c[i] ^= 0x20;
        assert_int_equal(restore(c, len), LX_ECORRUPT);
    }
    /* With the checksum made right again, the content must still hold. */
    size_t qf, bb;
    locate(sec, &qf, &bb);
    struct {
        const char *what;
        size_t off;
        uint64_t v;
    } bad[] = {
        {"another block", 8, SNAP + 1},
        {"batches closed 3", 48, 3},
        {"batches settled 0", 56, 0},
        {"batches settled 2", 56, 2},
        {"a new engine asset", 128, 3},
        {"a new engine market", 136, 2},
        {"the open batch numbered 4", bb + 81, 4},
        {"the open batch starting a block later", bb + 121, SNAP + 3},
        {"the open batch's first fill", bb + 129, 5},
        {"another tx fee", bb + 73, 999},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        memcpy(c, sec, len);
        put64(c + bad[k].off, bad[k].v);
        fix_sum(c, len);
        print_message("  %s\n", bad[k].what);
        assert_int_equal(restore(c, len), LX_ECORRUPT);
    }
    struct {
        const char *what;
        size_t off;
    } flips[] = {
        {"another channel", 16},
        {"another hash of the last settled batch", 96 + 5},
        {"another channel in the builder", bb + 1},
        {"another previous batch in the builder", bb + 89},
        {"a queued batch of another channel", qf + 12 + 30},
        {"a fill leaf of the queued batch", qf + 12 + get32(sec + qf + 8) + 60},
    };
    for (size_t k = 0; k < sizeof flips / sizeof flips[0]; k++) {
        memcpy(c, sec, len);
        c[flips[k].off] ^= 2;
        fix_sum(c, len);
        print_message("  %s\n", flips[k].what);
        assert_int_equal(restore(c, len), LX_ECORRUPT);
    }
    /* Nothing refused changed the state. */
    assert_int_equal(lx__settle_encode(live->settle, SNAP, &after, &alen), LX_OK);
    assert_int_equal(alen, len);
    assert_memory_equal(after, sec, len);
    free(after);

    /* Every single-bit change with the checksum made right: refused, or
     * taken whole (a timestamp, an amount): the state then encodes to
     * exactly those bytes. */
    size_t taken = 0;
    for (size_t i = 0; i + 32 < len; i++) {
        memcpy(c, sec, len);
        c[i] ^= 0x01;
        fix_sum(c, len);
        if (restore(c, len) != LX_OK)
            continue;
        taken++;
        assert_int_equal(lx__settle_encode(live->settle, SNAP, &after, &alen), LX_OK);
        assert_int_equal(alen, len);
        assert_memory_equal(after, c, len);
        free(after);
        assert_int_equal(restore(sec, len), LX_OK);
    }
    assert_true(taken > 0);

    /* Halted, settlement takes no snapshot: one would stop the journal
     * from keeping the blocks a restart after the fix replays. */
    uint64_t from, to;
    live->settle->halted = 1;
    assert_int_equal(lx__settle_snapshot(live, &after, &alen, &from, &to), LX_ESTATE);
    live->settle->halted = 0;
    assert_int_equal(lx__settle_snapshot(live, &after, &alen, &from, &to), LX_OK);
    assert_int_equal(alen, len);
    assert_memory_equal(after, sec, len);
    free(after);
    free(c);
    free(sec);
    lx_engine_free(&snap_engine);
    lx__settle_free(live);
    free(live);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_from_block_1),
        cmocka_unit_test(test_old_snapshot_falls_back),
        cmocka_unit_test(test_restart_from_snapshot),
        cmocka_unit_test(test_compacted_journal),
        cmocka_unit_test(test_section_refused),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    free(full);
    free(full_files.p);
    return rc;
}
