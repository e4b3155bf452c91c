/* Tests for the node's snapshot files (node/snapshot.c) with a settlement section:
 * version 2 stores it after the engine bytes under the file's CRC and loads
 * it back; a snapshot without one is still version 1, byte for byte; a
 * damaged, cut or inconsistent version 2 file is passed over for an older
 * valid snapshot. (The version 1 cases are in test_journal.c.) */
#define _XOPEN_SOURCE 700 /* nftw (test_fs.h) */
#include <fcntl.h>
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

#include "../../node/logio.h"
#include "lx/node.h"
#include "test_fs.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    lx_test_tmpdir(dir, sizeof dir, "lx-snapshot");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return lx_test_rm_rf(dir);
}

static void path_of(char *out, size_t cap, uint64_t seq)
{
    snprintf(out, cap, "%s/snapshots/%020llu.snap", dir, (unsigned long long)seq);
}

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*len);
    assert_int_equal(fread(b, 1, *len, f), *len);
    fclose(f);
    return b;
}

static void write_all(const char *path, const uint8_t *b, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, len, f), len);
    fclose(f);
}

/* Rewrites the file's CRC after an edit, so that only the other checks
 * stand between it and a load. */
static void fix_crc(uint8_t *b, size_t len)
{
    lx__put_u32(b + len - 4, lx__crc32c(0, b, len - 4));
}

static uint8_t engine[200], section[77];

static void write_pair(void)
{
    lx_snapshot_meta m = {.seq = 4, .next_index = 9};
    memset(m.state_hash, 0x44, sizeof m.state_hash);
    assert_int_equal(lx_snapshot_write(dir, &m, engine, 100, section, 30), LX_OK);
    m.seq = 8;
    m.next_index = 20;
    memset(m.state_hash, 0x88, sizeof m.state_hash);
    assert_int_equal(lx_snapshot_write(dir, &m, engine, sizeof engine, section, sizeof section),
                     LX_OK);
}

/* Loads the newest snapshot: its seq (0 for none), checking its bytes. */
static uint64_t load_newest(void)
{
    lx_snapshot_meta got;
    uint8_t *eng = NULL, *sec = NULL;
    size_t len = 0, slen = 0;
    lx_err rc = lx_snapshot_load(&got, &eng, &len, &sec, &slen, NULL, dir, UINT64_MAX);
    if (rc == LX_ENOTFOUND)
        return 0;
    assert_int_equal(rc, LX_OK);
    size_t want = got.seq == 8 ? sizeof engine : 100, swant = got.seq == 8 ? sizeof section : 30;
    assert_int_equal(len, want);
    assert_memory_equal(eng, engine, len);
    assert_int_equal(slen, swant);
    assert_memory_equal(sec, section, slen);
    free(eng);
    free(sec);
    return got.seq;
}

static void test_section_round_trip(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof engine; i++)
        engine[i] = (uint8_t)(i * 3);
    for (size_t i = 0; i < sizeof section; i++)
        section[i] = (uint8_t)(0xC0 + i);
    write_pair();
    char path[256];
    path_of(path, sizeof path, 8);
    size_t len;
    uint8_t *b = read_all(path, &len);
    assert_memory_equal(b, "LXSNAP02", 8);
    assert_int_equal(len, 64 + sizeof engine + 8 + sizeof section + 4);
    assert_int_equal(lx__get_u64(b + 56), sizeof engine);
    assert_int_equal(lx__get_u64(b + 64 + sizeof engine), sizeof section);
    assert_memory_equal(b + 64 + sizeof engine + 8, section, sizeof section);
    assert_int_equal(lx__get_u32(b + len - 4), lx__crc32c(0, b, len - 4));
    free(b);
    assert_int_equal(load_newest(), 8);

    /* Without asking for the section: the engine bytes only. */
    lx_snapshot_meta got;
    uint8_t *eng = NULL;
    size_t elen = 0;
    assert_int_equal(lx_snapshot_load(&got, &eng, &elen, NULL, NULL, NULL, dir, 7), LX_OK);
    assert_int_equal(got.seq, 4);
    assert_int_equal(elen, 100);
    assert_memory_equal(eng, engine, 100);
    free(eng);

    /* No section: version 1, as nodes without settlement always wrote. */
    lx_snapshot_meta m = {.seq = 12, .next_index = 30};
    assert_int_equal(lx_snapshot_write(dir, &m, engine, 50, NULL, 0), LX_OK);
    path_of(path, sizeof path, 12);
    b = read_all(path, &len);
    assert_memory_equal(b, "LXSNAP01", 8);
    assert_int_equal(len, 64 + 50 + 4);
    free(b);
    uint8_t *sec = (uint8_t *)"x";
    size_t slen = 9;
    assert_int_equal(lx_snapshot_load(&got, &eng, &elen, &sec, &slen, NULL, dir, UINT64_MAX),
                     LX_OK);
    assert_int_equal(got.seq, 12);
    assert_null(sec);
    assert_int_equal(slen, 0);
    free(eng);
    assert_int_equal(unlink(path), 0);

    assert_int_equal(lx_snapshot_write(dir, &m, engine, 50, NULL, 5), LX_EINVAL);
    assert_int_equal(lx_snapshot_load(&got, &eng, &elen, &sec, NULL, NULL, dir, 1), LX_EINVAL);
    /* The two snapshots pass the prune's checks. */
    assert_int_equal(lx_snapshot_prune(dir, 2), LX_OK);
    assert_int_equal(load_newest(), 8);
}

/* Each damage to the newest file makes the load fall back to seq 4. */
static void test_damaged_section(void **state)
{
    (void)state;
    char path[256];
    path_of(path, sizeof path, 8);
    size_t len;
    uint8_t *good = read_all(path, &len), *b = malloc(len);
    size_t off_slen = 64 + sizeof engine;
    struct {
        const char *what;
        int edit; /* 0: flip a byte at off; 1: set the u64 at off to v, CRC fixed; 2: cut to off */
        size_t off;
        uint64_t v;
    } cases[] = {
        {"a section byte flipped", 0, off_slen + 8 + 10, 0},
        {"the section length flipped", 0, off_slen + 7, 0},
        {"a section one byte longer than the file", 1, off_slen, sizeof section + 1},
        {"a section one byte shorter than the file", 1, off_slen, sizeof section - 1},
        {"an empty section in a version 2 file", 1, off_slen, 0},
        {"an engine length past the section length", 1, 56, sizeof engine + 8},
        {"an engine length of the whole rest", 1, 56, sizeof engine + 8 + sizeof section},
        {"a huge section length", 1, off_slen, UINT64_MAX},
        {"cut in the section", 2, off_slen + 20, 0},
        {"cut in the section length", 2, off_slen + 3, 0},
        {"cut right after the engine bytes", 2, off_slen, 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        print_message("  %s\n", cases[k].what);
        memcpy(b, good, len);
        size_t n = len;
        if (cases[k].edit == 0) {
            b[cases[k].off] ^= 0x01;
        } else if (cases[k].edit == 1) {
            lx__put_u64(b + cases[k].off, cases[k].v);
            fix_crc(b, n);
        } else {
            n = cases[k].off + 4;
            fix_crc(b, n);
        }
        write_all(path, b, n);
        assert_int_equal(load_newest(), 4);
    }
    /* A version 1 file whose bytes hold a section: the lengths disagree. */
    memcpy(b, good, len);
    memcpy(b, "LXSNAP01", 8);
    fix_crc(b, len);
    write_all(path, b, len);
    assert_int_equal(load_newest(), 4);
    write_all(path, good, len);
    assert_int_equal(load_newest(), 8);
    free(b);
    free(good);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_section_round_trip),
        cmocka_unit_test(test_damaged_section),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
