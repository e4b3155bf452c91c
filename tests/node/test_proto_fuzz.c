/* A bounded fuzz run of the client wire protocol decoder inside the test
 * suite: seeded random and mutated frames go through the fuzz entry point
 * (tests/node/fuzz_proto.c) for a few seconds. LX_FUZZ_SEED and
 * LX_FUZZ_SECONDS (default 8) override the defaults to reproduce or extend a
 * run. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "fuzz_proto.c"
#include "proto_samples.h"

#define MAX_ITER 50000000u

static uint64_t rs;

static uint64_t rnd(void)
{
    /* splitmix64: a good spread from any seed, including 0 */
    uint64_t z = (rs += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static size_t below(size_t n)
{
    return n ? (size_t)(rnd() % n) : 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t env_u64(const char *name, uint64_t dflt)
{
    const char *s = getenv(name);
    if (s == NULL || *s == '\0')
        return dflt;
    char *end;
    unsigned long long v = strtoull(s, &end, 0);
    return *end == '\0' ? (uint64_t)v : dflt;
}

/* Makes the header's body length agree with the frame length, so that the
 * mutation reaches the body checks instead of stopping at the length. */
static void fix_body_len(uint8_t *b, size_t n)
{
    size_t off =
        (n > 0 && (b[0] == LX_PROTO_CH_TRADE || b[0] == LX_PROTO_CH_L2)) ? LX_PROTO_TOPIC_LEN : 0;
    if (n < off + LX_PROTO_HDR_LEN)
        return;
    size_t body = n - off - LX_PROTO_HDR_LEN;
    uint8_t *p = b + off + 14;
    p[0] = (uint8_t)(body >> 24);
    p[1] = (uint8_t)(body >> 16);
    p[2] = (uint8_t)(body >> 8);
    p[3] = (uint8_t)body;
}

static const uint8_t interesting[] = {0x00, 0x01, 0x02, 0x03, 0x0b, 0x10, 0x11, 0x20, 0x40,
                                      0x7e, 0x7f, 0x80, 0x81, 0xc1, 0xc2, 0xfe, 0xff};

/* Applies one random mutation to b (n bytes, room for cap); returns the new
 * length. */
static size_t mutate(uint8_t *b, size_t n, size_t cap, const uint8_t *other, size_t on)
{
    switch (rnd() % 9) {
    case 0: /* flip a bit */
        if (n)
            b[below(n)] ^= (uint8_t)(1u << (rnd() % 8));
        return n;
    case 1: /* an interesting byte */
        if (n)
            b[below(n)] = interesting[below(sizeof interesting)];
        return n;
    case 2: /* a random byte */
        if (n)
            b[below(n)] = (uint8_t)rnd();
        return n;
    case 3: /* cut the tail */
        return below(n + 1);
    case 4: { /* insert a byte */
        if (n >= cap)
            return n;
        size_t at = below(n + 1);
        memmove(b + at + 1, b + at, n - at);
        b[at] = (uint8_t)rnd();
        return n + 1;
    }
    case 5: { /* delete a byte */
        if (n == 0)
            return n;
        size_t at = below(n);
        memmove(b + at, b + at + 1, n - at - 1);
        return n - 1;
    }
    case 6: { /* append random bytes */
        size_t k = 1 + below(64);
        if (n + k > cap)
            return n;
        for (size_t i = 0; i < k; i++)
            b[n + i] = (uint8_t)rnd();
        return n + k;
    }
    case 7: { /* a 16-bit field set to an edge value (counts, lengths) */
        static const uint16_t edge[] = {0, 1, 255, 256, 257, 0x7fff, 0xffff};
        if (n < 2)
            return n;
        size_t at = below(n - 1);
        uint16_t v = edge[below(sizeof edge / sizeof edge[0])];
        b[at] = (uint8_t)(v >> 8);
        b[at + 1] = (uint8_t)v;
        return n;
    }
    default: { /* splice in part of another frame */
        if (on == 0 || n == 0)
            return n;
        size_t from = below(on), len = 1 + below(on - from);
        size_t at = below(n);
        if (at + len > cap)
            return n;
        memcpy(b + at, other + from, len);
        return at + len > n ? at + len : n;
    }
    }
}

static void test_fuzz_bounded(void **state)
{
    (void)state;
    uint64_t seed = env_u64("LX_FUZZ_SEED", 20240611u);
    double secs = (double)env_u64("LX_FUZZ_SECONDS", 8u);
    rs = seed;

    static uint8_t seeds[SAMPLE_COUNT][1024];
    size_t seed_len[SAMPLE_COUNT];
    for (unsigned k = 0; k < SAMPLE_COUNT; k++) {
        seed_len[k] = sample_frame(seeds[k], sizeof seeds[k], k);
        assert_true(seed_len[k] > 0);
        assert_int_equal(LLVMFuzzerTestOneInput(seeds[k], seed_len[k]), 0);
    }

    static uint8_t work[LX_PROTO_FRAME_MAX + 2];
    unsigned long seen[LX_PROTO_E_COUNT] = {0};
    unsigned long mutated_ok = 0, iters = 0;
    double start = now_s();

    while (iters < MAX_ITER) {
        if ((iters & 1023u) == 0 && now_s() - start > secs)
            break;
        iters++;
        size_t n;
        unsigned k = (unsigned)below(SAMPLE_COUNT);
        if (rnd() % 16 == 0) {
            /* plain random bytes, once in a while near the frame cap */
            n = rnd() % 8 == 0 ? LX_PROTO_FRAME_MAX - 2 + below(4) : below(512);
            for (size_t i = 0; i < n; i++)
                work[i] = (uint8_t)rnd();
        } else {
            n = seed_len[k];
            memcpy(work, seeds[k], n);
            unsigned rounds = 1 + (unsigned)below(4);
            for (unsigned r = 0; r < rounds; r++) {
                unsigned o = (unsigned)below(SAMPLE_COUNT);
                n = mutate(work, n, sizeof work, seeds[o], seed_len[o]);
            }
            if (rnd() % 2)
                fix_body_len(work, n);
        }

        /* an exact-size copy, so that any read past the end trips ASan */
        uint8_t *frame = malloc(n ? n : 1);
        assert_non_null(frame);
        memcpy(frame, work, n);
        lx_proto_msg m;
        lx_proto_error code = LX_PROTO_E_COUNT;
        lx_err err = lx_proto_decode(&m, &code, frame, n);
        assert_true(code < LX_PROTO_E_COUNT);
        seen[code]++;
        if (err == LX_OK && (n != seed_len[k] || memcmp(frame, seeds[k], n) != 0))
            mutated_ok++;
        assert_int_equal(LLVMFuzzerTestOneInput(frame, n), 0);
        free(frame);
    }

    printf("fuzz: seed %llu, %lu frames in %.1f s; ok %lu (mutated %lu), malformed %lu, "
           "truncated %lu, too_big %lu, bad_version %lu, unknown_type %lu\n",
           (unsigned long long)seed, iters, now_s() - start, seen[LX_PROTO_E_NONE], mutated_ok,
           seen[LX_PROTO_E_MALFORMED], seen[LX_PROTO_E_TRUNCATED], seen[LX_PROTO_E_TOO_BIG],
           seen[LX_PROTO_E_BAD_VERSION], seen[LX_PROTO_E_UNKNOWN_TYPE]);

    /* The run must have reached every decoder outcome, or it tested little. */
    assert_true(iters >= 10000);
    for (int c = LX_PROTO_E_NONE; c <= LX_PROTO_E_UNKNOWN_TYPE; c++)
        assert_true(seen[c] > 0);
    assert_true(mutated_ok > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fuzz_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
