/* Runs the codec fuzz target over a bounded number of mutations of valid
 * transactions and UTXOs, from a fixed seed, so the suite exercises it
 * without a fuzzing compiler. LX_FUZZ_ITERS overrides the count. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "fuzz_codec.c"

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static size_t below(size_t n)
{
    return n > 0 ? (size_t)(next() % n) : 0;
}

typedef struct seed {
    uint8_t *b;
    size_t len;
} seed;

/* A signed tx of the given kind with dummy signatures (decoding does not
 * check them). */
static seed make_seed(lx_tx_kind kind, size_t nouts, size_t nins)
{
    uint8_t addrs[3 * LX_ADDR_LEN];
    for (size_t i = 0; i < sizeof addrs; i++)
        addrs[i] = (uint8_t)(i * 37);
    lx_xout outs[4];
    lx_xin ins[4];
    static const uint32_t idx[3] = {0, 1, 2};
    for (size_t i = 0; i < 4; i++) {
        outs[i] = (lx_xout){
            .amount = 100 + i, .threshold = (uint32_t)(i % 3), .naddrs = i % 3, .addrs = addrs};
        if (outs[i].naddrs > 0 && outs[i].threshold == 0)
            outs[i].threshold = 1;
        memset(outs[i].asset_id, (int)(i & 1), LX_ID_LEN);
        ins[i] = (lx_xin){
            .output_index = (uint32_t)i, .amount = 50 + i, .nsigs = i % 3, .sig_indices = idx};
        memset(ins[i].tx_id, 0x10, LX_ID_LEN);
        memset(ins[i].asset_id, 1, LX_ID_LEN);
    }
    lx_tx_spec s = {.kind = kind,
                    .network_id = 12345,
                    .nouts = nouts,
                    .outs = outs,
                    .nins = nins,
                    .ins = ins,
                    .memo = (const uint8_t *)"memo",
                    .memo_len = 4};
    if (kind == LX_TX_EXPORT) {
        s.nxouts = 2;
        s.xouts = outs + 2;
    }
    if (kind == LX_TX_IMPORT) {
        s.nins = 1;
        s.nxins = 2;
        s.xins = ins + 2;
    }
    lx_tx *tx = NULL;
    assert_int_equal(lx_tx_build(&tx, &s), LX_OK);
    uint8_t sig[LX_SIG_LEN];
    memset(sig, 0x5c, sizeof sig);
    for (size_t i = 0; i < lx_tx_input_count(tx); i++)
        for (size_t j = 0; j < lx_tx_sig_count(tx, i); j++)
            assert_int_equal(lx_tx_set_sig(tx, i, j, sig), LX_OK);
    seed out = {.len = lx_tx_signed_len(tx)};
    out.b = malloc(out.len);
    size_t n = 0;
    assert_int_equal(lx_tx_encode(tx, out.b, out.len, &n), LX_OK);
    lx_tx_free(&tx);
    return out;
}

static seed utxo_seed(void)
{
    uint8_t addrs[2 * LX_ADDR_LEN];
    memset(addrs, 3, LX_ADDR_LEN);
    memset(addrs + LX_ADDR_LEN, 4, LX_ADDR_LEN);
    lx_xutxo v = {.output_index = 2};
    v.out = (lx_xout){.amount = 9, .threshold = 2, .naddrs = 2, .addrs = addrs};
    lx_utxo *u = NULL;
    assert_int_equal(lx_utxo_new(&u, &v), LX_OK);
    seed out = {.len = lx_utxo_encoded_len(u)};
    out.b = malloc(out.len);
    size_t n = 0;
    assert_int_equal(lx_utxo_encode(u, out.b, out.len, &n), LX_OK);
    lx_utxo_free(&u);
    return out;
}

/* One random edit: flip, set a byte to a boundary value, insert, delete,
 * truncate, or overwrite a 4-byte field with a small or huge count. */
static size_t mutate(uint8_t *b, size_t len, size_t cap)
{
    size_t edits = 1 + below(4);
    for (size_t e = 0; e < edits; e++) {
        size_t at = below(len);
        switch (below(6)) {
        case 0:
            if (len > 0)
                b[at] ^= (uint8_t)(1u << below(8));
            break;
        case 1: {
            static const uint8_t vals[] = {0, 1, 2, 5, 7, 9, 0x7f, 0x80, 0xff};
            if (len > 0)
                b[at] = vals[below(sizeof vals)];
            break;
        }
        case 2:
            if (len < cap) {
                memmove(b + at + 1, b + at, len - at);
                b[at] = (uint8_t)next();
                len++;
            }
            break;
        case 3:
            if (len > 0) {
                memmove(b + at, b + at + 1, len - at - 1);
                len--;
            }
            break;
        case 4:
            len = below(len + 1);
            break;
        default:
            if (len >= 4 && at <= len - 4) {
                uint32_t v = below(2) ? (uint32_t)below(4) : 0xffffffffu - (uint32_t)below(4);
                b[at] = (uint8_t)(v >> 24);
                b[at + 1] = (uint8_t)(v >> 16);
                b[at + 2] = (uint8_t)(v >> 8);
                b[at + 3] = (uint8_t)v;
            }
            break;
        }
    }
    return len;
}

static void test_fuzz_mutations(void **state)
{
    (void)state;
    seed seeds[6] = {
        make_seed(LX_TX_BASE, 2, 1),   make_seed(LX_TX_BASE, 4, 4),   make_seed(LX_TX_BASE, 0, 0),
        make_seed(LX_TX_EXPORT, 1, 2), make_seed(LX_TX_IMPORT, 2, 1), utxo_seed(),
    };
    /* The seeds themselves decode and re-encode. */
    for (size_t i = 0; i < 6; i++)
        LLVMFuzzerTestOneInput(seeds[i].b, seeds[i].len);
    long iters = 60000;
    const char *env = getenv("LX_FUZZ_ITERS");
    if (env != NULL)
        iters = strtol(env, NULL, 10);
    /* Bounded in time as well, so a slow sanitizer build stays near 10 s. */
    time_t start = time(NULL);
    enum { CAP = 4096 };
    uint8_t *buf = malloc(CAP);
    long done = 0;
    for (; done < iters && time(NULL) - start < 12; done++) {
        const seed *s = &seeds[below(6)];
        memcpy(buf, s->b, s->len);
        size_t len = mutate(buf, s->len, CAP);
        /* an exact-size heap copy so ASan catches any over-read */
        uint8_t *in = malloc(len + 1);
        memcpy(in, buf, len);
        LLVMFuzzerTestOneInput(in, len);
        free(in);
    }
    print_message("fuzz: %ld inputs\n", done);
    assert_true(done > 1000);
    /* random garbage too */
    for (int i = 0; i < 2000; i++) {
        size_t len = below(600);
        uint8_t *in = malloc(len + 1);
        for (size_t k = 0; k < len; k++)
            in[k] = (uint8_t)next();
        LLVMFuzzerTestOneInput(in, len);
        free(in);
    }
    free(buf);
    for (size_t i = 0; i < 6; i++)
        free(seeds[i].b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fuzz_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
