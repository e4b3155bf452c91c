/* Net changes: the leaf bytes, the root over a canonical list, and the
 * conservation check that catches any imbalance. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lx/settlement.h"

static lx_net_change change(uint64_t account, uint8_t asset, int64_t delta)
{
    lx_net_change c;
    memset(&c, 0, sizeof c);
    c.account = account;
    memset(c.asset_id, asset, sizeof c.asset_id);
    c.delta = delta;
    return c;
}

static lx_transfer transfer(uint64_t seq, uint64_t account, uint8_t asset, uint64_t amount)
{
    lx_transfer t;
    memset(&t, 0, sizeof t);
    t.seq = seq;
    t.account = account;
    memset(t.asset_id, asset, sizeof t.asset_id);
    t.amount = amount;
    return t;
}

static void test_leaf_bytes(void **state)
{
    (void)state;
    lx_net_change c = change(0x0102030405060708u, 0xab, -2);
    uint8_t out[LX_NET_LEAF_LEN];
    assert_int_equal(lx_net_change_encode(out, &c), LX_OK);
    static const uint8_t acct[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    static const uint8_t minus2[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe};
    assert_memory_equal(out, acct, 8);
    for (int i = 8; i < 40; i++)
        assert_int_equal(out[i], 0xab);
    assert_memory_equal(out + 40, minus2, 8);
    c.delta = INT64_MAX;
    assert_int_equal(lx_net_change_encode(out, &c), LX_OK);
    assert_int_equal(out[40], 0x7f);
    assert_int_equal(out[47], 0xff);
    assert_int_equal(lx_net_change_encode(NULL, &c), LX_EINVAL);
    assert_int_equal(lx_net_change_encode(out, NULL), LX_EINVAL);
}

static void test_root(void **state)
{
    (void)state;
    lx_net_change v[4] = {change(1, 1, 5), change(1, 2, -5), change(2, 1, -5), change(2, 2, 5)};
    uint8_t leaves[4 * 32], want[32], got[32];
    for (int i = 0; i < 4; i++) {
        uint8_t leaf[LX_NET_LEAF_LEN];
        assert_int_equal(lx_net_change_encode(leaf, &v[i]), LX_OK);
        assert_int_equal(lx_merkle_leaf_hash(leaves + 32 * i, leaf, sizeof leaf), LX_OK);
    }
    assert_int_equal(lx_merkle_root(want, leaves, 4), LX_OK);
    assert_int_equal(lx_net_root(got, v, 4), LX_OK);
    assert_memory_equal(got, want, 32);
    assert_int_equal(lx_net_root(got, NULL, 0), LX_OK);
    assert_int_equal(lx_sha256(want, NULL, 0), LX_OK);
    assert_memory_equal(got, want, 32);

    /* Not canonical: out of order, repeated, a zero delta. */
    lx_net_change w[4];
    memcpy(w, v, sizeof w);
    w[1] = v[2];
    w[2] = v[1];
    assert_int_equal(lx_net_root(got, w, 4), LX_ECANONICAL);
    memcpy(w, v, sizeof w);
    w[1] = w[0];
    assert_int_equal(lx_net_root(got, w, 2), LX_ECANONICAL);
    memcpy(w, v, sizeof w);
    w[3].delta = 0;
    assert_int_equal(lx_net_root(got, w, 4), LX_ECANONICAL);
    /* Asset order is by the 32 ID bytes, not the first byte only. */
    w[0] = change(1, 1, 1);
    w[1] = change(1, 1, 1);
    w[1].asset_id[31] = 2;
    assert_int_equal(lx_net_root(got, w, 2), LX_OK);
    assert_int_equal(lx_net_root(got, w + 1, 0), LX_OK);
    lx_net_change swap[2] = {w[1], w[0]};
    assert_int_equal(lx_net_root(got, swap, 2), LX_ECANONICAL);
    assert_int_equal(lx_net_root(NULL, v, 4), LX_EINVAL);
    assert_int_equal(lx_net_root(got, NULL, 4), LX_EINVAL);
}

static void test_conservation(void **state)
{
    (void)state;
    /* A trade: account 1 buys 10 base from account 2 for 500 quote, fees 3
     * and 2 to the fee account 9. Asset 0xb0 is base, 0xc0 quote. */
    lx_net_change v[5] = {change(1, 0xb0, 10), change(1, 0xc0, -503), change(2, 0xb0, -10),
                          change(2, 0xc0, 498), change(9, 0xc0, 5)};
    uint8_t bad[32];
    assert_int_equal(lx_net_check(bad, v, 5, NULL, 0, NULL, 0), LX_OK);
    assert_int_equal(lx_net_check(NULL, NULL, 0, NULL, 0, NULL, 0), LX_OK);

    /* Without the fee account the quote asset is 5 short. */
    memset(bad, 0, sizeof bad);
    assert_int_equal(lx_net_check(bad, v, 4, NULL, 0, NULL, 0), LX_ECORRUPT);
    assert_int_equal(bad[0], 0xc0);
    /* One unit off anywhere. */
    for (int i = 0; i < 5; i++) {
        lx_net_change w[5];
        memcpy(w, v, sizeof w);
        w[i].delta += 1;
        assert_int_equal(lx_net_check(bad, w, 5, NULL, 0, NULL, 0), LX_ECORRUPT);
        assert_memory_equal(bad, v[i].asset_id, 32);
    }

    /* A deposit of 100 quote to 3 and a withdrawal of 4 base by 2. */
    lx_net_change x[6] = {change(1, 0xb0, 10),  change(1, 0xc0, -503), change(2, 0xb0, -14),
                          change(2, 0xc0, 498), change(3, 0xc0, 100),  change(9, 0xc0, 5)};
    lx_transfer dep = transfer(5, 3, 0xc0, 100), wd = transfer(6, 2, 0xb0, 4);
    assert_int_equal(lx_net_check(bad, x, 6, &dep, 1, &wd, 1), LX_OK);
    /* Forget either and the asset no longer balances. */
    assert_int_equal(lx_net_check(bad, x, 6, NULL, 0, &wd, 1), LX_ECORRUPT);
    assert_int_equal(bad[0], 0xc0);
    assert_int_equal(lx_net_check(bad, x, 6, &dep, 1, NULL, 0), LX_ECORRUPT);
    assert_int_equal(bad[0], 0xb0);
    /* A withdrawal the list does not debit. */
    lx_transfer wd2[2] = {wd, transfer(6, 1, 0xb0, 1)};
    assert_int_equal(lx_net_check(bad, x, 6, &dep, 1, wd2, 2), LX_ECORRUPT);

    /* Extremes: sums beyond 64 bits still balance exactly. */
    lx_net_change big[4] = {change(1, 1, INT64_MAX), change(2, 1, INT64_MAX),
                            change(3, 1, -INT64_MAX), change(4, 1, -INT64_MAX)};
    assert_int_equal(lx_net_check(bad, big, 4, NULL, 0, NULL, 0), LX_OK);
    big[3].delta = INT64_MIN;
    assert_int_equal(lx_net_check(bad, big, 4, NULL, 0, NULL, 0), LX_ECORRUPT);

    /* Not canonical lists are refused before summing. */
    lx_net_change dup[2] = {change(1, 1, 1), change(1, 1, -1)};
    assert_int_equal(lx_net_check(bad, dup, 2, NULL, 0, NULL, 0), LX_ECANONICAL);
    assert_int_equal(lx_net_check(bad, NULL, 2, NULL, 0, NULL, 0), LX_EINVAL);
    assert_int_equal(lx_net_check(bad, v, 5, NULL, 1, NULL, 0), LX_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leaf_bytes),
        cmocka_unit_test(test_root),
        cmocka_unit_test(test_conservation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
