/* Tests for the channel file and the settlement options of multi-node
 * (node/settle_channel.c): a full file parses with sorted owners and the
 * default threshold, funding in the `lx-xchain utxos --json` form keeps only
 * the channel's UTXOs, and every missing or bad field is refused with a
 * message; the options' values and their combinations are checked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../node/settle_int.h"

static char addr[4][LX_ADDR_STR_MAX];
static uint8_t raw[4][LX_XADDR_LEN];
static char lux[LX_CB58_ID_MAX], usd[LX_CB58_ID_MAX], chain[LX_CB58_ID_MAX], tx1[LX_CB58_ID_MAX];
static char text[8192], err[600];
static lx__channel_cfg cfg;

static int setup(void **state)
{
    (void)state;
    for (int i = 0; i < 4; i++) {
        uint8_t sec[32] = {0};
        sec[31] = (uint8_t)(i + 1);
        lx_key *k = NULL;
        assert_int_equal(lx_key_import(&k, sec), LX_OK);
        assert_int_equal(lx_key_address(k, raw[i]), LX_OK);
        assert_int_equal(lx_address_encode(addr[i], sizeof addr[i], "X", "local", raw[i]), LX_OK);
        lx_key_free(&k);
    }
    uint8_t id[32];
    memset(id, 0x11, 32);
    lx_id_to_cb58(lux, id);
    memset(id, 0x22, 32);
    lx_id_to_cb58(usd, id);
    memset(id, 0x33, 32);
    lx_id_to_cb58(chain, id);
    memset(id, 0x44, 32);
    lx_id_to_cb58(tx1, id);
    return 0;
}

/* A channel file of owners 0..2 with extra JSON members spliced in. */
static const char *file(const char *threshold, const char *funding, const char *extra)
{
    snprintf(text, sizeof text,
             "{\"network_id\":12345,\"blockchain_id\":\"%s\",\"hrp\":\"local\","
             "\"owners\":[\"%s\",\"%s\",\"%s\"]%s,\"fee_asset\":\"%s\",\"tx_fee\":1000000,"
             "\"assets\":{\"LUX\":\"%s\",\"USD\":\"%s\"},\"funding\":%s%s}",
             chain, addr[2], addr[0], addr[1], threshold, lux, lux, usd, funding, extra);
    return text;
}

static char funding_buf[4096];

/* One funding UTXO of the channel (2 of owners 0..2), as lx-xchain prints it. */
static const char *funding_ok(void)
{
    snprintf(funding_buf, sizeof funding_buf,
             "{\"address\":\"%s\",\"utxos\":["
             "{\"txID\":\"%s\",\"outputIndex\":1,\"assetID\":\"%s\",\"amount\":\"5000\","
             "\"locktime\":\"0\",\"threshold\":2,\"addresses\":[\"%s\",\"%s\",\"%s\"]},"
             "{\"txID\":\"%s\",\"outputIndex\":2,\"assetID\":\"%s\",\"amount\":\"7\","
             "\"threshold\":1,\"addresses\":[\"%s\"]},"
             "{\"txID\":\"%s\",\"outputIndex\":3,\"assetID\":\"%s\",\"amount\":\"9\","
             "\"threshold\":2,\"addresses\":[\"%s\",\"%s\",\"%s\"]}]}",
             addr[0], tx1, lux, addr[1], addr[0], addr[2], tx1, lux, addr[0], tx1, lux, addr[0],
             addr[1], addr[3]);
    return funding_buf;
}

static int cmp20(const void *a, const void *b)
{
    return memcmp(a, b, 20);
}

static void test_parse_full(void **state)
{
    (void)state;
    size_t skipped = 9;
    assert_int_equal(lx__channel_parse(&cfg, &skipped, err, sizeof err, file("", funding_ok(), "")),
                     LX_OK);
    assert_int_equal(cfg.network_id, 12345);
    assert_int_equal(cfg.nowners, 3);
    assert_int_equal(cfg.threshold, 2); /* ceil(2 * 3 / 3) */
    uint8_t sorted[3][20];
    memcpy(sorted, raw, sizeof sorted);
    qsort(sorted, 3, 20, cmp20);
    assert_memory_equal(cfg.owners, sorted, sizeof sorted);
    assert_int_equal(cfg.tx_fee, 1000000);
    assert_int_equal(cfg.nassets, 2);
    uint8_t id[32];
    memset(id, 0x22, 32);
    assert_non_null(lx__channel_asset(&cfg, "USD"));
    assert_memory_equal(lx__channel_asset(&cfg, "USD"), id, 32);
    assert_null(lx__channel_asset(&cfg, "BTC"));
    /* Only the 2-of-{0,1,2} UTXO is the channel's: the others are skipped. */
    assert_int_equal(cfg.nfunding, 1);
    assert_int_equal(skipped, 2);
    assert_int_equal(cfg.funding[0].index, 1);
    assert_int_equal(cfg.funding[0].amount, 5000);
    lx_channel ch;
    lx__channel_view(&ch, &cfg);
    assert_int_equal(ch.nowners, 3);
    assert_int_equal(ch.threshold, 2);
}

static void test_parse_threshold_and_array(void **state)
{
    (void)state;
    char f[1024];
    snprintf(f, sizeof f, "[{\"txID\":\"%s\",\"outputIndex\":0,\"assetID\":\"%s\",\"amount\":12}]",
             tx1, usd);
    assert_int_equal(lx__channel_parse(&cfg, NULL, err, sizeof err,
                                       file(",\"threshold\":3", f, ",\"max_inputs\":10")),
                     LX_OK);
    assert_int_equal(cfg.threshold, 3);
    assert_int_equal(cfg.max_inputs, 10);
    assert_int_equal(cfg.nfunding, 1);
    /* Without threshold or addresses a listed UTXO is taken as the channel's. */
    assert_int_equal(cfg.funding[0].amount, 12);
}

static void expect_bad(const char *t, const char *what)
{
    err[0] = 0;
    assert_int_equal(lx__channel_parse(&cfg, NULL, err, sizeof err, t), LX_EINVAL);
    if (!strstr(err, what))
        fail_msg("error \"%s\" does not mention \"%s\"", err, what);
}

static void test_parse_bad(void **state)
{
    (void)state;
    const char *ok = funding_ok();
    expect_bad("{", "line");
    expect_bad("[]", "object");
    expect_bad(file(",\"threshold\":4", ok, ""), "threshold");
    expect_bad(file(",\"threshold\":0", ok, ""), "threshold");
    expect_bad(file("", "[]", ""), "funding");
    expect_bad(file("", "{\"utxos\":[{\"txID\":\"x\"}]}", ""), "funding entry 1");
    /* every funding UTXO owned by others: nothing to spend */
    char f[2048];
    snprintf(f, sizeof f,
             "[{\"txID\":\"%s\",\"outputIndex\":0,\"assetID\":\"%s\",\"amount\":1,"
             "\"threshold\":1,\"addresses\":[\"%s\"]}]",
             tx1, lux, addr[0]);
    expect_bad(file("", f, ""), "no UTXO");
    snprintf(f, sizeof f,
             "[{\"txID\":\"%s\",\"outputIndex\":0,\"assetID\":\"%s\",\"amount\":1},"
             "{\"txID\":\"%s\",\"outputIndex\":0,\"assetID\":\"%s\",\"amount\":1}]",
             tx1, lux, tx1, lux);
    expect_bad(file("", f, ""), "twice");
    expect_bad(file("", ok, ",\"max_inputs\":0"), "max_inputs");
    /* a missing member */
    snprintf(text, sizeof text, "{\"network_id\":1}");
    expect_bad(text, "blockchain_id");
    /* an owner listed twice */
    snprintf(text, sizeof text,
             "{\"network_id\":1,\"blockchain_id\":\"%s\",\"hrp\":\"local\",\"owners\":[\"%s\","
             "\"%s\"],\"fee_asset\":\"%s\",\"assets\":{\"LUX\":\"%s\"},\"funding\":%s}",
             chain, addr[0], addr[0], lux, lux, ok);
    expect_bad(text, "twice");
    /* an owner of another network's prefix */
    snprintf(text, sizeof text,
             "{\"network_id\":1,\"blockchain_id\":\"%s\",\"hrp\":\"lux\",\"owners\":[\"%s\"],"
             "\"fee_asset\":\"%s\",\"assets\":{\"LUX\":\"%s\"},\"funding\":%s}",
             chain, addr[0], lux, lux, ok);
    expect_bad(text, "owner 1");
    /* two symbols with one asset ID */
    snprintf(text, sizeof text,
             "{\"network_id\":1,\"blockchain_id\":\"%s\",\"hrp\":\"local\",\"owners\":[\"%s\"],"
             "\"fee_asset\":\"%s\",\"assets\":{\"LUX\":\"%s\",\"USD\":\"%s\"},\"funding\":%s}",
             chain, addr[0], lux, lux, lux, ok);
    expect_bad(text, "another symbol");
}

static void test_load_missing(void **state)
{
    (void)state;
    assert_int_equal(lx__channel_load(&cfg, NULL, err, sizeof err, "/nonexistent/channel.json"),
                     LX_EINVAL);
    assert_non_null(strstr(err, "cannot read"));
}

static void test_options(void **state)
{
    (void)state;
    lx__settle_cfg c;
    lx__settle_cfg_defaults(&c);
    assert_int_equal(c.interval_us, 1000000);
    assert_int_equal(c.max_fills, 10000);
    assert_int_equal(lx__settle_cfg_check(&c, err, sizeof err, 1), LX_OK); /* off */
    assert_int_equal(lx__settle_set_opt(&c, err, sizeof err, 3, "250ms", "--settle-interval"),
                     LX_OK);
    assert_int_equal(c.interval_us, 250000);
    assert_int_equal(lx__settle_set_opt(&c, err, sizeof err, 3, "0", "--settle-interval"),
                     LX_EINVAL);
    assert_int_equal(lx__settle_set_opt(&c, err, sizeof err, 4, "500", "--settle-fills"), LX_OK);
    assert_int_equal(c.max_fills, 500);
    assert_int_equal(lx__settle_set_opt(&c, err, sizeof err, 4, "0", "--settle-fills"), LX_EINVAL);
    assert_int_equal(lx__settle_set_opt(&c, err, sizeof err, 4, "12x", "--settle-fills"),
                     LX_EINVAL);
    assert_int_equal(lx__settle_set_opt(&c, err, sizeof err, 2, "ftp://x", "--rpc"), LX_EINVAL);
    assert_non_null(strstr(err, "--rpc"));
    /* --key-file alone */
    assert_int_equal(lx__settle_set_opt(&c, err, sizeof err, 1, "k.key", "--key-file"), LX_OK);
    assert_int_equal(lx__settle_cfg_check(&c, err, sizeof err, 0), LX_EINVAL);
    assert_non_null(strstr(err, "--channel"));
    /* --channel and --key-file: enough for a follower, not for the leader */
    assert_int_equal(lx__settle_set_opt(&c, err, sizeof err, 0, "ch.json", "--channel"), LX_OK);
    assert_int_equal(lx__settle_cfg_check(&c, err, sizeof err, 0), LX_OK);
    assert_int_equal(lx__settle_cfg_check(&c, err, sizeof err, 1), LX_EINVAL);
    assert_non_null(strstr(err, "--rpc"));
    assert_int_equal(
        lx__settle_set_opt(&c, err, sizeof err, 2, "http://127.0.0.1:9630", "SETTLE_RPC"), LX_OK);
    assert_int_equal(lx__settle_cfg_check(&c, err, sizeof err, 1), LX_OK);
    /* --channel without --key-file */
    lx__settle_cfg_defaults(&c);
    assert_int_equal(lx__settle_set_opt(&c, err, sizeof err, 0, "ch.json", "--channel"), LX_OK);
    assert_int_equal(lx__settle_cfg_check(&c, err, sizeof err, 0), LX_EINVAL);
    assert_non_null(strstr(err, "--key-file"));
    assert_int_equal(lx__settle_set_opt(&c, err, sizeof err, 0, "", "--channel"), LX_EINVAL);
    assert_int_equal(lx__settle_set_opt(&c, err, sizeof err, 9, "x", "--what"), LX_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_full), cmocka_unit_test(test_parse_threshold_and_array),
        cmocka_unit_test(test_parse_bad),  cmocka_unit_test(test_load_missing),
        cmocka_unit_test(test_options),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
