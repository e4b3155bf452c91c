/* Input selection: the same inputs whatever the order of the UTXO list, the
 * previous change always spent, the largest-first rule, what is never
 * spendable, and the errors; and the channel ID. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lx/settlement.h"

#define NU 60

static uint8_t owners[3 * 20], strangers[3 * 20];
static lx_channel ch;

static uint64_t rng = 88172645463325252u;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void setup_channel(void)
{
    memset(owners, 0, sizeof owners);
    for (int i = 0; i < 3; i++) {
        owners[20 * i] = (uint8_t)(0x10 * (i + 1)); /* sorted */
        strangers[20 * i] = (uint8_t)(0x11 * (i + 1));
    }
    ch = (lx_channel){3, owners, 2};
}

static lx_channel_utxo utxo(uint8_t tx, uint32_t index, uint8_t asset, uint64_t amount)
{
    lx_channel_utxo u;
    memset(&u, 0, sizeof u);
    memset(u.tx_id, tx, 32);
    u.tx_id[31] = (uint8_t)(tx * 7); /* not all-equal bytes */
    u.index = index;
    memset(u.asset_id, asset, 32);
    u.amount = amount;
    u.threshold = 2;
    u.nowners = 3;
    u.owners = owners;
    return u;
}

/* The channel's UTXOs: assets 0xaa and 0xbb, with ones the channel cannot
 * spend mixed in: other owners, another threshold, a future locktime. */
static void make_set(lx_channel_utxo *v)
{
    for (int i = 0; i < NU; i++) {
        v[i] = utxo((uint8_t)(1 + i / 3), (uint32_t)(i % 3), i % 2 ? 0xbb : 0xaa,
                    1000 + (uint64_t)((i * 7919) % 97) * 100);
        if (i % 7 == 3)
            v[i].owners = strangers;
        if (i % 7 == 5)
            v[i].threshold = 1;
        if (i % 7 == 6)
            v[i].locktime = 2000000000;
    }
}

static int spendable(const lx_channel_utxo *u)
{
    return u->owners == owners && u->threshold == 2 && u->locktime <= 1700000000;
}

static void shuffle(lx_channel_utxo *v, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(next_rand() % i);
        lx_channel_utxo t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}

static int key_cmp(const void *a, const void *b)
{
    const lx_channel_utxo *x = a, *y = b;
    int c = memcmp(x->tx_id, y->tx_id, 32);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

static void same_selection(const lx_selection *a, const lx_selection *b)
{
    assert_int_equal(a->ninputs, b->ninputs);
    for (size_t i = 0; i < a->ninputs; i++) {
        assert_memory_equal(a->inputs[i].tx_id, b->inputs[i].tx_id, 32);
        assert_int_equal(a->inputs[i].index, b->inputs[i].index);
        assert_int_equal(a->inputs[i].amount, b->inputs[i].amount);
    }
    assert_int_equal(a->nchange, b->nchange);
    assert_memory_equal(a->change, b->change, a->nchange * sizeof *a->change);
}

static int has_input(const lx_selection *s, const lx_channel_utxo *u)
{
    for (size_t i = 0; i < s->ninputs; i++)
        if (key_cmp(&s->inputs[i], u) == 0)
            return 1;
    return 0;
}

static void test_order_independent(void **state)
{
    (void)state;
    setup_channel();
    lx_channel_utxo set[NU], prev[2] = {utxo(0xe0, 0, 0xaa, 500), utxo(0xe0, 1, 0xbb, 700)};
    make_set(set);
    lx_asset_amount needs[2];
    memset(needs, 0, sizeof needs);
    memset(needs[0].asset_id, 0xaa, 32);
    needs[0].amount = 9000;
    memset(needs[1].asset_id, 0xbb, 32);
    needs[1].amount = 300; /* the previous change covers it */
    lx_select_options opt = {0, 0, 1700000000};
    lx_selection first, again;
    assert_int_equal(lx_channel_select(&first, &ch, &opt, prev, 2, set, NU, needs, 2), LX_OK);

    /* Independent reference: prev, then the spendable 0xaa UTXOs by amount
     * (largest first, then key) until 9000 is reached. */
    lx_channel_utxo cand[NU];
    size_t nc = 0;
    for (int i = 0; i < NU; i++)
        if (spendable(&set[i]) && set[i].asset_id[0] == 0xaa)
            cand[nc++] = set[i];
    for (size_t i = 1; i < nc; i++) /* insertion sort: amount desc, key asc */
        for (size_t j = i; j > 0; j--) {
            lx_channel_utxo *x = &cand[j - 1], *y = &cand[j];
            int after = x->amount < y->amount || (x->amount == y->amount && key_cmp(x, y) > 0);
            if (!after)
                break;
            lx_channel_utxo t = *x;
            *x = *y;
            *y = t;
        }
    uint64_t got = 500, in_a = 500, in_b = 700;
    size_t taken = 0;
    for (size_t i = 0; i < nc && got < 9000; i++) {
        got += cand[i].amount;
        assert_true(has_input(&first, &cand[i]));
        taken++;
    }
    in_a = got;
    assert_int_equal(first.ninputs, 2 + taken);
    assert_true(has_input(&first, &prev[0]));
    assert_true(has_input(&first, &prev[1]));
    for (size_t i = 1; i < first.ninputs; i++)
        assert_true(key_cmp(&first.inputs[i - 1], &first.inputs[i]) < 0);
    for (size_t i = 0; i < first.ninputs; i++)
        assert_true(spendable(&first.inputs[i]));
    assert_int_equal(first.nchange, 2);
    assert_int_equal(first.change[0].asset_id[0], 0xaa);
    assert_int_equal(first.change[0].amount, in_a - 9000);
    assert_int_equal(first.change[1].asset_id[0], 0xbb);
    assert_int_equal(first.change[1].amount, in_b - 300);

    /* Shuffled, with repeats and with prev also in the list: the same. */
    lx_channel_utxo big[2 * NU + 2];
    for (int round = 0; round < 30; round++) {
        memcpy(big, set, sizeof set);
        memcpy(big + NU, set, sizeof set);
        big[2 * NU] = prev[1];
        big[2 * NU + 1] = prev[0];
        size_t n = round % 2 ? 2 * NU + 2 : NU;
        shuffle(big, n);
        lx_channel_utxo p2[2] = {prev[round % 2], prev[1 - round % 2]};
        assert_int_equal(lx_channel_select(&again, &ch, &opt, p2, 2, big, n, needs, 2), LX_OK);
        same_selection(&first, &again);
        lx_selection_free(&again);
    }
    lx_selection_free(&first);
    assert_null(first.inputs);
}

static void test_prev_always_spent(void **state)
{
    (void)state;
    setup_channel();
    lx_channel_utxo set[NU], prev[2] = {utxo(0xe0, 0, 0xaa, 500), utxo(0xe0, 1, 0xcc, 7)};
    make_set(set);
    lx_select_options opt = {0, 0, 1700000000};
    lx_selection s;
    /* Nothing to pay: the inputs are exactly the previous change. */
    assert_int_equal(lx_channel_select(&s, &ch, &opt, prev, 2, set, NU, NULL, 0), LX_OK);
    assert_int_equal(s.ninputs, 2);
    assert_true(has_input(&s, &prev[0]));
    assert_true(has_input(&s, &prev[1]));
    assert_int_equal(s.nchange, 2);
    lx_selection_free(&s);
    /* A previous change the channel cannot spend is an error, not skipped. */
    prev[1].owners = strangers;
    assert_int_equal(lx_channel_select(&s, &ch, &opt, prev, 2, set, NU, NULL, 0), LX_EINVAL);
    prev[1].owners = owners;
    prev[1].locktime = opt.now + 1;
    assert_int_equal(lx_channel_select(&s, &ch, &opt, prev, 2, set, NU, NULL, 0), LX_EINVAL);
}

static void test_sweep_and_errors(void **state)
{
    (void)state;
    setup_channel();
    lx_channel_utxo set[NU], prev = utxo(0xe0, 0, 0xaa, 500);
    make_set(set);
    lx_asset_amount need;
    memset(&need, 0, sizeof need);
    memset(need.asset_id, 0xaa, 32);
    need.amount = 400;
    lx_select_options opt = {0, 5, 1700000000};
    lx_selection s;
    /* Sweep 5: prev covers the need, then the 5 lowest keys of the rest. */
    assert_int_equal(lx_channel_select(&s, &ch, &opt, &prev, 1, set, NU, &need, 1), LX_OK);
    assert_int_equal(s.ninputs, 6);
    lx_channel_utxo sorted[NU];
    size_t ns = 0;
    for (int i = 0; i < NU; i++)
        if (spendable(&set[i]))
            sorted[ns++] = set[i];
    qsort(sorted, ns, sizeof sorted[0], key_cmp);
    for (size_t i = 0; i < 5; i++)
        assert_true(has_input(&s, &sorted[i]));
    lx_selection_free(&s);
    /* ... within max_inputs. */
    opt.max_inputs = 3;
    assert_int_equal(lx_channel_select(&s, &ch, &opt, &prev, 1, set, NU, &need, 1), LX_OK);
    assert_int_equal(s.ninputs, 3);
    lx_selection_free(&s);

    /* Not enough spendable funds. */
    opt = (lx_select_options){0, 0, 1700000000};
    need.amount = 10000000;
    assert_int_equal(lx_channel_select(&s, &ch, &opt, &prev, 1, set, NU, &need, 1), LX_ESTATE);
    assert_null(s.inputs);
    /* Locked funds do not count: the same need is met once they unlock. */
    uint64_t all = 500;
    for (int i = 0; i < NU; i++)
        if (set[i].asset_id[0] == 0xaa && set[i].owners == owners && set[i].threshold == 2)
            all += set[i].amount;
    need.amount = all;
    assert_int_equal(lx_channel_select(&s, &ch, &opt, &prev, 1, set, NU, &need, 1), LX_ESTATE);
    opt.now = 2000000000;
    assert_int_equal(lx_channel_select(&s, &ch, &opt, &prev, 1, set, NU, &need, 1), LX_OK);
    assert_int_equal(s.nchange, 0);
    lx_selection_free(&s);
    /* Too many inputs needed. */
    opt.max_inputs = 4;
    assert_int_equal(lx_channel_select(&s, &ch, &opt, &prev, 1, set, NU, &need, 1), LX_ETOOBIG);
    opt.max_inputs = 0;
    /* A UTXO listed twice with different contents. */
    need.amount = 1;
    lx_channel_utxo twice[2] = {set[0], set[0]};
    twice[1].amount++;
    assert_int_equal(lx_channel_select(&s, &ch, &opt, &prev, 1, twice, 2, &need, 1), LX_EINVAL);
    /* An asset named twice in needs; a bad channel. */
    lx_asset_amount two[2] = {need, need};
    assert_int_equal(lx_channel_select(&s, &ch, &opt, &prev, 1, set, NU, two, 2), LX_EINVAL);
    lx_channel bad = {3, owners, 4};
    assert_int_equal(lx_channel_select(&s, &bad, &opt, &prev, 1, set, NU, &need, 1), LX_EINVAL);
    /* Amounts of one asset past 2^64 - 1. */
    lx_channel_utxo huge[2] = {utxo(1, 0, 0xaa, UINT64_MAX), utxo(2, 0, 0xaa, 5)};
    assert_int_equal(lx_channel_select(&s, &ch, &opt, huge, 2, NULL, 0, NULL, 0), LX_EOVERFLOW);
}

static void test_channel_id(void **state)
{
    (void)state;
    setup_channel();
    uint8_t chain[32], a[32], b[32];
    memset(chain, 0xbc, 32);
    assert_int_equal(lx_channel_id(a, &ch, 12345, chain), LX_OK);
    /* sha256("lxdex/channel/v1" || u32 || 32 || u32 || u32 || owners). */
    uint8_t buf[16 + 4 + 32 + 4 + 4 + 60] = "lxdex/channel/v1";
    uint8_t *p = buf + 16;
    p[2] = 0x30, p[3] = 0x39, p += 4;
    memcpy(p, chain, 32), p += 32;
    p[3] = 2, p += 4;
    p[3] = 3, p += 4;
    memcpy(p, owners, 60);
    assert_int_equal(lx_sha256(b, buf, sizeof buf), LX_OK);
    assert_memory_equal(a, b, 32);
    ch.threshold = 3;
    assert_int_equal(lx_channel_id(b, &ch, 12345, chain), LX_OK);
    assert_memory_not_equal(a, b, 32);
    ch.threshold = 0;
    assert_int_equal(lx_channel_id(b, &ch, 12345, chain), LX_EINVAL);
    ch.threshold = 2;
    owners[20] = 0x05; /* out of order */
    assert_int_equal(lx_channel_id(b, &ch, 12345, chain), LX_EINVAL);
    owners[20] = owners[0]; /* repeated */
    assert_int_equal(lx_channel_id(b, &ch, 12345, chain), LX_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_independent),
        cmocka_unit_test(test_prev_always_spent),
        cmocka_unit_test(test_sweep_and_errors),
        cmocka_unit_test(test_channel_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
