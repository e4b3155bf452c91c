/* Tests for the JSON Lines command parser and event formatter (cmdjson.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lx/node.h"

typedef struct fixture {
    lx_cmdjson *cj;
    lx_engine *e;
    lx_events evs;
    lx_parsed out;
    char err[256];
} fixture;

static int setup(void **state)
{
    static fixture f;
    memset(&f, 0, sizeof(f));
    lx_engine_config cfg = {0};
    if (lx_cmdjson_new(&f.cj) != LX_OK || lx_engine_new(&f.e, &cfg) != LX_OK)
        return -1;
    lx_events_init(&f.evs);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    lx_cmdjson_free(&f->cj);
    lx_engine_free(&f->e);
    lx_events_free(&f->evs);
    return 0;
}

static lx_err parse(fixture *f, const char *line)
{
    memset(&f->out, 0xa5, sizeof(f->out));
    return lx_cmdjson_parse(f->cj, &f->out, f->err, sizeof(f->err), f->e, line, strlen(line));
}

/* Parses a line that must be malformed and checks the exact reason. */
static void bad(fixture *f, const char *line, const char *reason)
{
    lx_err rc = parse(f, line);
    if (rc != LX_EFORMAT || strcmp(f->err, reason) != 0) {
        print_error("line:     %s\nreason:   %s\nexpected: %s (rc %d)\n", line, f->err, reason,
                    (int)rc);
    }
    assert_int_equal(rc, LX_EFORMAT);
    assert_string_equal(f->err, reason);
}

static void add_btc_usd(fixture *f)
{
    assert_int_equal(parse(f, "{\"op\":\"market\",\"market\":\"BTC-USD\",\"base\":\"BTC\","
                              "\"quote\":\"USD\",\"lot\":10000,\"tick\":1}"),
                     LX_OK);
    lx_events_clear(&f->evs);
    assert_int_equal(lx_engine_add_market(f->e, &f->evs, &f->out.market), LX_OK);
    assert_int_equal(f->evs.n, 1);
    assert_int_equal(f->evs.v[0].type, LX_EV_MARKET);
}

/* ---- contexts and account names ---- */

static void test_context(void **state)
{
    fixture *f = *state;
    assert_int_equal(lx_cmdjson_new(NULL), LX_EINVAL);
    assert_string_equal(lx_cmdjson_account_name(f->cj, 0), "fees");
    assert_null(lx_cmdjson_account_name(f->cj, 1));
    assert_null(lx_cmdjson_account_name(NULL, 0));
    lx_cmdjson_free(NULL);
    lx_cmdjson *cj = NULL;
    lx_cmdjson_free(&cj);
    assert_null(cj);
    assert_int_equal(lx_cmdjson_parse(NULL, &f->out, f->err, sizeof(f->err), NULL, "{}", 2),
                     LX_EINVAL);
    assert_int_equal(lx_cmdjson_parse(f->cj, NULL, f->err, sizeof(f->err), NULL, "{}", 2),
                     LX_EINVAL);
    assert_int_equal(lx_cmdjson_parse(f->cj, &f->out, f->err, sizeof(f->err), NULL, NULL, 2),
                     LX_EINVAL);
}

#define DEPOSIT_LINE "{\"op\":\"deposit\",\"account\":\"%s\",\"asset\":\"USD\",\"amount\":1}"

static void test_account_ids(void **state)
{
    fixture *f = *state;
    const char *names[] = {"alice", "bob", "alice", "fees", "carol", "bob"};
    const uint64_t ids[] = {1, 2, 1, 0, 3, 2};
    char line[200];
    for (size_t i = 0; i < 6; i++) {
        snprintf(line, sizeof(line), DEPOSIT_LINE, names[i]);
        assert_int_equal(parse(f, line), LX_OK);
        assert_int_equal(f->out.cmd.u.transfer.account, ids[i]);
    }
    /* a malformed line does not name its account */
    bad(f, "{\"op\":\"deposit\",\"account\":\"dave\",\"asset\":\"USD\"}",
        "missing field \"amount\"");
    assert_null(lx_cmdjson_account_name(f->cj, 4));
    snprintf(line, sizeof(line), DEPOSIT_LINE, "erin");
    assert_int_equal(parse(f, line), LX_OK);
    assert_int_equal(f->out.cmd.u.transfer.account, 4);
    assert_string_equal(lx_cmdjson_account_name(f->cj, 4), "erin");
    assert_string_equal(lx_cmdjson_account_name(f->cj, 3), "carol");
    /* the fee account cannot be renamed once others exist */
    assert_int_equal(lx_cmdjson_set_fee_name(f->cj, "house"), LX_ESTATE);
}

static void test_many_accounts(void **state)
{
    fixture *f = *state;
    char line[200];
    for (int round = 0; round < 2; round++) {
        for (unsigned i = 1; i <= 3000; i++) {
            snprintf(line, sizeof(line), "{\"op\":\"cancel\",\"id\":1,\"account\":\"acct-%u\"}", i);
            assert_int_equal(parse(f, line), LX_OK);
            assert_int_equal(f->out.cmd.u.cancel.account, i);
        }
    }
    assert_string_equal(lx_cmdjson_account_name(f->cj, 2999), "acct-2999");
    assert_null(lx_cmdjson_account_name(f->cj, 3001));
}

static void test_fee_name(void **state)
{
    fixture *f = *state;
    assert_int_equal(lx_cmdjson_set_fee_name(f->cj, ""), LX_EINVAL);
    assert_int_equal(lx_cmdjson_set_fee_name(f->cj, "a\tb"), LX_EINVAL);
    assert_int_equal(lx_cmdjson_set_fee_name(NULL, "x"), LX_EINVAL);
    assert_int_equal(lx_cmdjson_set_fee_name(f->cj, "house"), LX_OK);
    assert_string_equal(lx_cmdjson_account_name(f->cj, 0), "house");
    assert_int_equal(parse(f, "{\"op\":\"cancel\",\"id\":1,\"account\":\"house\"}"), LX_OK);
    assert_int_equal(f->out.cmd.u.cancel.account, 0);
    /* "fees" is now an ordinary name */
    assert_int_equal(parse(f, "{\"op\":\"cancel\",\"id\":1,\"account\":\"fees\"}"), LX_OK);
    assert_int_equal(f->out.cmd.u.cancel.account, 1);
}

/* ---- every op ---- */

static void test_market(void **state)
{
    fixture *f = *state;
    assert_int_equal(parse(f, "{\"op\":\"market\",\"market\":\"ETH-USDC\",\"base\":\"ETH\","
                              "\"quote\":\"USDC\",\"lot\":1000,\"tick\":5,\"min_qty\":2,"
                              "\"maker_fee_bps\":10,\"taker_fee_bps\":25}"),
                     LX_OK);
    assert_int_equal(f->out.is_market, 1);
    assert_string_equal(f->out.market.name, "ETH-USDC");
    assert_string_equal(f->out.market.base, "ETH");
    assert_string_equal(f->out.market.quote, "USDC");
    assert_int_equal(f->out.market.lot, 1000);
    assert_int_equal(f->out.market.tick, 5);
    assert_int_equal(f->out.market.min_qty, 2);
    assert_int_equal(f->out.market.maker_fee_bps, 10);
    assert_int_equal(f->out.market.taker_fee_bps, 25);

    /* defaults: min_qty 1, no fees */
    assert_int_equal(parse(f, "{\"tick\":1,\"lot\":7,\"quote\":\"B\",\"base\":\"A\","
                              "\"market\":\"A-B\",\"op\":\"market\"}"),
                     LX_OK);
    assert_int_equal(f->out.is_market, 1);
    assert_int_equal(f->out.market.lot, 7);
    assert_int_equal(f->out.market.min_qty, 1);
    assert_int_equal(f->out.market.maker_fee_bps, 0);
    assert_int_equal(f->out.market.taker_fee_bps, 0);

    /* a fee too large for 32 bits stays too large for the engine */
    assert_int_equal(parse(f, "{\"op\":\"market\",\"market\":\"A-B\",\"base\":\"A\",\"quote\":"
                              "\"B\",\"lot\":1,\"tick\":1,\"maker_fee_bps\":99999999999}"),
                     LX_OK);
    assert_int_equal(f->out.market.maker_fee_bps, UINT32_MAX);
    assert_int_equal(parse(f, "{\"op\":\"market\",\"market\":\"A-B\",\"base\":\"A\",\"quote\":"
                              "\"B\",\"lot\":1,\"tick\":1,\"taker_fee_bps\":10001}"),
                     LX_OK);
    assert_int_equal(f->out.market.taker_fee_bps, 10001);

    bad(f, "{\"op\":\"market\",\"market\":\"A-B\",\"base\":\"A\",\"quote\":\"B\",\"lot\":1}",
        "missing field \"tick\"");
    bad(f, "{\"op\":\"market\",\"market\":\"A-B\",\"base\":\"A\",\"lot\":1,\"tick\":1}",
        "missing field \"quote\"");
    bad(f,
        "{\"op\":\"market\",\"market\":\"A-B\",\"base\":\"A\",\"quote\":\"B\",\"lot\":1,"
        "\"tick\":1,\"fee\":3}",
        "unknown field \"fee\"");
}

static void test_transfers(void **state)
{
    fixture *f = *state;
    assert_int_equal(
        parse(f, "{\"op\":\"deposit\",\"account\":\"alice\",\"asset\":\"USD\",\"amount\":1000000}"),
        LX_OK);
    assert_int_equal(f->out.is_market, 0);
    assert_int_equal(f->out.cmd.type, LX_CMD_DEPOSIT);
    assert_int_equal(f->out.cmd.u.transfer.account, 1);
    assert_int_equal(f->out.cmd.u.transfer.amount, 1000000);
    assert_string_equal(f->out.cmd.u.transfer.asset, "USD");

    assert_int_equal(
        parse(f, "{\"op\":\"withdraw\",\"account\":\"bob\",\"asset\":\"BTC\",\"amount\":\"5\"}"),
        LX_OK);
    assert_int_equal(f->out.cmd.type, LX_CMD_WITHDRAW);
    assert_int_equal(f->out.cmd.u.transfer.account, 2);
    assert_int_equal(f->out.cmd.u.transfer.amount, 5);
    assert_string_equal(f->out.cmd.u.transfer.asset, "BTC");

    /* zero parses; the engine rejects it as bad_amount */
    assert_int_equal(
        parse(f, "{\"op\":\"withdraw\",\"account\":\"bob\",\"asset\":\"BTC\",\"amount\":0}"),
        LX_OK);
    assert_int_equal(f->out.cmd.u.transfer.amount, 0);

    bad(f, "{\"op\":\"deposit\",\"asset\":\"USD\",\"amount\":1}", "missing field \"account\"");
    bad(f, "{\"op\":\"deposit\",\"account\":\"a\",\"amount\":1}", "missing field \"asset\"");
    bad(f, "{\"op\":\"withdraw\",\"account\":\"a\",\"asset\":\"USD\",\"amount\":1,\"id\":3}",
        "unknown field \"id\"");
    bad(f, "{\"op\":\"deposit\",\"account\":5,\"asset\":\"USD\",\"amount\":1}",
        "field \"account\" must be a string");
    bad(f, "{\"op\":\"deposit\",\"account\":\"a\",\"asset\":[\"USD\"],\"amount\":1}",
        "field \"asset\" must be a string");
}

static void test_order_full(void **state)
{
    fixture *f = *state;
    add_btc_usd(f);
    assert_int_equal(parse(f,
                           "{\"op\":\"order\",\"id\":7,\"account\":\"alice\",\"market\":"
                           "\"BTC-USD\",\"side\":\"sell\",\"type\":\"market\",\"tif\":\"fok\","
                           "\"post_only\":true,\"price\":500,\"qty\":3,\"stp\":\"expire_both\"}"),
                     LX_OK);
    const lx_order_cmd *o = &f->out.cmd.u.order;
    assert_int_equal(f->out.is_market, 0);
    assert_int_equal(f->out.cmd.type, LX_CMD_ORDER);
    assert_int_equal(o->id, 7);
    assert_int_equal(o->account, 1);
    assert_int_equal(o->market, 0);
    assert_int_equal(o->side, LX_SELL);
    assert_int_equal(o->type, LX_MARKET);
    assert_int_equal(o->tif, LX_FOK);
    assert_true(o->post_only);
    assert_int_equal(o->price, 500);
    assert_int_equal(o->qty, 3);
    assert_int_equal(o->stp, LX_STP_EXPIRE_BOTH);
}

static void test_order_defaults(void **state)
{
    fixture *f = *state;
    add_btc_usd(f);
    assert_int_equal(parse(f, "{\"op\":\"order\",\"id\":\"18\",\"account\":\"bob\",\"market\":"
                              "\"BTC-USD\",\"side\":\"buy\",\"price\":\"499\",\"qty\":2}"),
                     LX_OK);
    const lx_order_cmd *o = &f->out.cmd.u.order;
    assert_int_equal(o->id, 18);
    assert_int_equal(o->market, 0);
    assert_int_equal(o->side, LX_BUY);
    assert_int_equal(o->type, LX_LIMIT);
    assert_int_equal(o->tif, LX_GTC);
    assert_false(o->post_only);
    assert_int_equal(o->stp, LX_STP_EXPIRE_MAKER);
    assert_int_equal(o->price, 499);
    assert_int_equal(o->qty, 2);
}

static void test_order_enums(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *field, *value;
        size_t offset;
        uint8_t want;
    } cases[] = {
        {"side", "buy", offsetof(lx_order_cmd, side), LX_BUY},
        {"side", "sell", offsetof(lx_order_cmd, side), LX_SELL},
        {"type", "limit", offsetof(lx_order_cmd, type), LX_LIMIT},
        {"type", "market", offsetof(lx_order_cmd, type), LX_MARKET},
        {"tif", "gtc", offsetof(lx_order_cmd, tif), LX_GTC},
        {"tif", "ioc", offsetof(lx_order_cmd, tif), LX_IOC},
        {"tif", "fok", offsetof(lx_order_cmd, tif), LX_FOK},
        {"stp", "expire_maker", offsetof(lx_order_cmd, stp), LX_STP_EXPIRE_MAKER},
        {"stp", "expire_taker", offsetof(lx_order_cmd, stp), LX_STP_EXPIRE_TAKER},
        {"stp", "expire_both", offsetof(lx_order_cmd, stp), LX_STP_EXPIRE_BOTH},
    };
    char line[300];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *side = strcmp(cases[i].field, "side") == 0 ? "" : "\"side\":\"sell\",";
        snprintf(line, sizeof(line),
                 "{\"op\":\"order\",\"id\":1,\"account\":\"a\",\"market\":\"X\",%s\"%s\":\"%s\","
                 "\"price\":1,\"qty\":1}",
                 side, cases[i].field, cases[i].value);
        assert_int_equal(parse(f, line), LX_OK);
        const uint8_t *base = (const uint8_t *)&f->out.cmd.u.order;
        assert_int_equal(base[cases[i].offset], cases[i].want);
    }
    const char *pre = "{\"op\":\"order\",\"id\":1,\"account\":\"a\",\"market\":\"X\",";
    const char *post = "\"price\":1,\"qty\":1}";
    static const struct {
        const char *fields, *reason;
    } bads[] = {
        {"\"side\":\"bye\",", "unknown side \"bye\": expected buy or sell"},
        {"\"side\":\"BUY\",", "unknown side \"BUY\": expected buy or sell"},
        {"\"side\":\"\",", "unknown side \"\": expected buy or sell"},
        {"\"side\":1,", "field \"side\" must be a string"},
        {"", "missing field \"side\""},
        {"\"side\":\"buy\",\"type\":\"stop\",", "unknown type \"stop\": expected limit or market"},
        {"\"side\":\"buy\",\"tif\":\"day\",", "unknown tif \"day\": expected gtc, ioc or fok"},
        {"\"side\":\"buy\",\"stp\":\"none\",",
         "unknown stp \"none\": expected expire_maker, expire_taker or expire_both"},
        {"\"side\":\"buy\",\"stp\":null,", "field \"stp\" must be a string"},
        {"\"side\":\"buy\",\"post_only\":\"true\",", "field \"post_only\" must be true or false"},
        {"\"side\":\"buy\",\"post_only\":1,", "field \"post_only\" must be true or false"},
        {"\"side\":\"buy\",\"post_only\":null,", "field \"post_only\" must be true or false"},
        {"\"side\":\"buy\",\"price\":1,", "invalid JSON: duplicate object key near '\"price\"'"},
    };
    for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
        snprintf(line, sizeof(line), "%s%s%s", pre, bads[i].fields, post);
        bad(f, line, bads[i].reason);
    }
    assert_int_equal(parse(f, "{\"op\":\"order\",\"id\":1,\"account\":\"a\",\"market\":\"X\","
                              "\"side\":\"buy\",\"post_only\":false,\"price\":1,\"qty\":1}"),
                     LX_OK);
    assert_false(f->out.cmd.u.order.post_only);
}

static void test_order_missing(void **state)
{
    fixture *f = *state;
    static const char *const fields[] = {"id", "account", "market", "side", "price", "qty"};
    char line[300];
    for (size_t skip = 0; skip < 6; skip++) {
        static const char *const values[] = {"\"id\":1",         "\"account\":\"a\"",
                                             "\"market\":\"X\"", "\"side\":\"buy\"",
                                             "\"price\":1",      "\"qty\":1"};
        size_t k = (size_t)snprintf(line, sizeof(line), "{\"op\":\"order\"");
        for (size_t i = 0; i < 6; i++)
            if (i != skip)
                k += (size_t)snprintf(line + k, sizeof(line) - k, ",%s", values[i]);
        snprintf(line + k, sizeof(line) - k, "}");
        char want[64];
        snprintf(want, sizeof(want), "missing field \"%s\"", fields[skip]);
        bad(f, line, want);
    }
}

static void test_unknown_market(void **state)
{
    fixture *f = *state;
    add_btc_usd(f);
    assert_int_equal(parse(f, "{\"op\":\"order\",\"id\":1,\"account\":\"a\",\"market\":\"ETH-USD\","
                              "\"side\":\"buy\",\"price\":1,\"qty\":1}"),
                     LX_OK);
    assert_int_equal(f->out.cmd.u.order.market, UINT32_MAX);
    /* without an engine no market is known */
    const char *l = "{\"op\":\"order\",\"id\":1,\"account\":\"a\",\"market\":\"BTC-USD\","
                    "\"side\":\"buy\",\"price\":1,\"qty\":1}";
    assert_int_equal(lx_cmdjson_parse(f->cj, &f->out, f->err, sizeof(f->err), NULL, l, strlen(l)),
                     LX_OK);
    assert_int_equal(f->out.cmd.u.order.market, UINT32_MAX);
    assert_int_equal(lx_cmdjson_parse(f->cj, &f->out, f->err, sizeof(f->err), f->e, l, strlen(l)),
                     LX_OK);
    assert_int_equal(f->out.cmd.u.order.market, 0);
}

static void test_cancel_replace(void **state)
{
    fixture *f = *state;
    assert_int_equal(parse(f, "{\"op\":\"cancel\",\"id\":7,\"account\":\"alice\"}"), LX_OK);
    assert_int_equal(f->out.cmd.type, LX_CMD_CANCEL);
    assert_int_equal(f->out.cmd.u.cancel.id, 7);
    assert_int_equal(f->out.cmd.u.cancel.account, 1);

    assert_int_equal(
        parse(f, "{\"op\":\"replace\",\"id\":7,\"account\":\"alice\",\"price\":499,\"qty\":2}"),
        LX_OK);
    assert_int_equal(f->out.cmd.type, LX_CMD_REPLACE);
    assert_int_equal(f->out.cmd.u.replace.id, 7);
    assert_int_equal(f->out.cmd.u.replace.account, 1);
    assert_int_equal(f->out.cmd.u.replace.price, 499);
    assert_int_equal(f->out.cmd.u.replace.qty, 2);

    bad(f, "{\"op\":\"cancel\",\"account\":\"alice\"}", "missing field \"id\"");
    bad(f, "{\"op\":\"cancel\",\"id\":7}", "missing field \"account\"");
    bad(f, "{\"op\":\"cancel\",\"id\":7,\"account\":\"alice\",\"market\":\"BTC-USD\"}",
        "unknown field \"market\"");
    bad(f, "{\"op\":\"replace\",\"id\":7,\"account\":\"alice\",\"qty\":2}",
        "missing field \"price\"");
    bad(f, "{\"op\":\"replace\",\"id\":7,\"account\":\"alice\",\"price\":2}",
        "missing field \"qty\"");
    bad(f,
        "{\"op\":\"replace\",\"id\":7,\"account\":\"alice\",\"price\":2,\"qty\":1,\"side\":"
        "\"buy\"}",
        "unknown field \"side\"");
}

/* ---- numbers ---- */

static void test_numbers(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *text;
        uint64_t want;
    } good[] = {
        {"0", 0},
        {"\"0\"", 0},
        {"-0", 0},
        {"42", 42},
        {"\"42\"", 42},
        {"9223372036854775807", INT64_MAX},
        {"\"9223372036854775807\"", INT64_MAX},
    };
    char line[200];
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        snprintf(line, sizeof(line), "{\"op\":\"cancel\",\"id\":%s,\"account\":\"a\"}",
                 good[i].text);
        assert_int_equal(parse(f, line), LX_OK);
        assert_int_equal(f->out.cmd.u.cancel.id, good[i].want);
    }
    static const struct {
        const char *text, *reason;
    } bads[] = {
        {"-1", "field \"id\" is negative"},
        {"\"-1\"", "field \"id\" is negative"},
        {"1.5", "field \"id\" is not an integer"},
        {"1.0", "field \"id\" is not an integer"},
        {"1e3", "field \"id\" is not an integer"},
        {"-2.5", "field \"id\" is not an integer"},
        {"\"1.5\"", "field \"id\" is not a decimal integer"},
        {"\"1e3\"", "field \"id\" is not a decimal integer"},
        {"\"+1\"", "field \"id\" is not a decimal integer"},
        {"\" 1\"", "field \"id\" is not a decimal integer"},
        {"\"1 \"", "field \"id\" is not a decimal integer"},
        {"\"0x10\"", "field \"id\" is not a decimal integer"},
        {"\"\"", "field \"id\" is an empty string"},
        {"\"007\"", "field \"id\" has a leading zero"},
        {"\"9223372036854775808\"", "field \"id\" exceeds 9223372036854775807"},
        {"\"18446744073709551616\"", "field \"id\" exceeds 9223372036854775807"},
        {"\"99999999999999999999999\"", "field \"id\" exceeds 9223372036854775807"},
        {"9223372036854775808", "a number exceeds 9223372036854775807"},
        {"18446744073709551615", "a number exceeds 9223372036854775807"},
        {"-9223372036854775809", "a number is negative and out of range"},
        {"true", "field \"id\" must be an integer or a decimal string"},
        {"null", "field \"id\" must be an integer or a decimal string"},
        {"[1]", "field \"id\" must be an integer or a decimal string"},
        {"{}", "field \"id\" must be an integer or a decimal string"},
    };
    for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
        snprintf(line, sizeof(line), "{\"op\":\"cancel\",\"id\":%s,\"account\":\"a\"}",
                 bads[i].text);
        bad(f, line, bads[i].reason);
    }
    /* every number field goes through the same checks */
    bad(f,
        "{\"op\":\"market\",\"market\":\"A-B\",\"base\":\"A\",\"quote\":\"B\",\"lot\":-1,"
        "\"tick\":1}",
        "field \"lot\" is negative");
    bad(f,
        "{\"op\":\"market\",\"market\":\"A-B\",\"base\":\"A\",\"quote\":\"B\",\"lot\":1,"
        "\"tick\":0.5}",
        "field \"tick\" is not an integer");
    bad(f,
        "{\"op\":\"market\",\"market\":\"A-B\",\"base\":\"A\",\"quote\":\"B\",\"lot\":1,"
        "\"tick\":1,\"min_qty\":\"x\"}",
        "field \"min_qty\" is not a decimal integer");
    bad(f,
        "{\"op\":\"market\",\"market\":\"A-B\",\"base\":\"A\",\"quote\":\"B\",\"lot\":1,"
        "\"tick\":1,\"maker_fee_bps\":-5}",
        "field \"maker_fee_bps\" is negative");
    bad(f,
        "{\"op\":\"market\",\"market\":\"A-B\",\"base\":\"A\",\"quote\":\"B\",\"lot\":1,"
        "\"tick\":1,\"taker_fee_bps\":true}",
        "field \"taker_fee_bps\" must be an integer or a decimal string");
    bad(f,
        "{\"op\":\"deposit\",\"account\":\"a\",\"asset\":\"USD\",\"amount\":"
        "\"9223372036854775808\"}",
        "field \"amount\" exceeds 9223372036854775807");
    bad(f,
        "{\"op\":\"order\",\"id\":1,\"account\":\"a\",\"market\":\"X\",\"side\":\"buy\","
        "\"price\":1,\"qty\":-3}",
        "field \"qty\" is negative");
    bad(f,
        "{\"op\":\"order\",\"id\":1,\"account\":\"a\",\"market\":\"X\",\"side\":\"buy\","
        "\"price\":2.5,\"qty\":3}",
        "field \"price\" is not an integer");
    bad(f, "{\"op\":\"replace\",\"id\":1,\"account\":\"a\",\"price\":1,\"qty\":\"01\"}",
        "field \"qty\" has a leading zero");
}

/* ---- strings ---- */

static void test_string_limits(void **state)
{
    fixture *f = *state;
    char name[80], line[300];
    memset(name, 'n', sizeof(name));

    /* accounts: 1..63 bytes */
    snprintf(line, sizeof(line), "{\"op\":\"cancel\",\"id\":1,\"account\":\"%.63s\"}", name);
    assert_int_equal(parse(f, line), LX_OK);
    assert_int_equal(strlen(lx_cmdjson_account_name(f->cj, f->out.cmd.u.cancel.account)), 63);
    snprintf(line, sizeof(line), "{\"op\":\"cancel\",\"id\":1,\"account\":\"%.64s\"}", name);
    bad(f, line, "field \"account\" is longer than 63 bytes");
    bad(f, "{\"op\":\"cancel\",\"id\":1,\"account\":\"\"}", "field \"account\" is empty");
    bad(f, "{\"op\":\"cancel\",\"id\":1,\"account\":\"a\\nb\"}",
        "field \"account\" contains a control character");
    bad(f, "{\"op\":\"cancel\",\"id\":1,\"account\":\"a\\u007fb\"}",
        "field \"account\" contains a control character");
    /* 21 characters but 63 bytes of UTF-8: fits */
    assert_int_equal(parse(f, "{\"op\":\"cancel\",\"id\":1,\"account\":\"\xe2\x82\xac\xe2\x82\xac"
                              "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82"
                              "\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2"
                              "\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
                              "\xe2\x82\xac\xe2\x82\xac\"}"),
                     LX_OK);
    /* quotes and backslashes are ordinary name bytes */
    assert_int_equal(parse(f, "{\"op\":\"cancel\",\"id\":1,\"account\":\"o\\\"k\\\\\"}"), LX_OK);
    assert_string_equal(lx_cmdjson_account_name(f->cj, f->out.cmd.u.cancel.account), "o\"k\\");

    /* market names: up to LX_NAME_MAX - 1 = 15 bytes */
    snprintf(line, sizeof(line),
             "{\"op\":\"market\",\"market\":\"%.15s\",\"base\":\"A\",\"quote\":\"B\",\"lot\":1,"
             "\"tick\":1}",
             name);
    assert_int_equal(parse(f, line), LX_OK);
    assert_int_equal(strlen(f->out.market.name), 15);
    snprintf(line, sizeof(line),
             "{\"op\":\"market\",\"market\":\"%.16s\",\"base\":\"A\",\"quote\":\"B\",\"lot\":1,"
             "\"tick\":1}",
             name);
    bad(f, line, "field \"market\" is longer than 15 bytes");
    snprintf(line, sizeof(line),
             "{\"op\":\"order\",\"id\":1,\"account\":\"a\",\"market\":\"%.16s\",\"side\":\"buy\","
             "\"price\":1,\"qty\":1}",
             name);
    bad(f, line, "field \"market\" is longer than 15 bytes");
    bad(f,
        "{\"op\":\"market\",\"market\":\"\",\"base\":\"A\",\"quote\":\"B\",\"lot\":1,\"tick\":1}",
        "field \"market\" is empty");

    /* asset symbols: up to LX_SYMBOL_MAX - 1 = 11 bytes */
    snprintf(line, sizeof(line),
             "{\"op\":\"deposit\",\"account\":\"a\",\"asset\":\"%.11s\",\"amount\":1}", name);
    assert_int_equal(parse(f, line), LX_OK);
    assert_int_equal(strlen(f->out.cmd.u.transfer.asset), 11);
    snprintf(line, sizeof(line),
             "{\"op\":\"deposit\",\"account\":\"a\",\"asset\":\"%.12s\",\"amount\":1}", name);
    bad(f, line, "field \"asset\" is longer than 11 bytes");
    snprintf(line, sizeof(line),
             "{\"op\":\"market\",\"market\":\"A-B\",\"base\":\"%.12s\",\"quote\":\"B\",\"lot\":1,"
             "\"tick\":1}",
             name);
    bad(f, line, "field \"base\" is longer than 11 bytes");
    snprintf(line, sizeof(line),
             "{\"op\":\"market\",\"market\":\"A-B\",\"base\":\"A\",\"quote\":\"%.12s\",\"lot\":1,"
             "\"tick\":1}",
             name);
    bad(f, line, "field \"quote\" is longer than 11 bytes");
    bad(f,
        "{\"op\":\"market\",\"market\":\"A-B\",\"base\":\"A\",\"quote\":\"\",\"lot\":1,\"tick\":1}",
        "field \"quote\" is empty");
}

/* ---- the line as a whole ---- */

static void test_malformed_lines(void **state)
{
    fixture *f = *state;
    bad(f, "{}", "missing field \"op\"");
    bad(f, "{\"account\":\"a\"}", "missing field \"op\"");
    bad(f, "{\"op\":1}", "field \"op\" must be a string");
    bad(f, "{\"op\":\"buy\"}", "unknown op \"buy\"");
    bad(f, "{\"op\":\"Order\"}", "unknown op \"Order\"");
    bad(f, "{\"op\":\"\"}", "unknown op \"\"");
    bad(f, "[1,2]", "line is not a JSON object");
    bad(f, "{\"op\":\"cancel\",\"id\":1,\"account\":\"a\",\"pirce\":3}", "unknown field \"pirce\"");
    bad(f, "{\"op\":\"cancel\",\"op\":\"cancel\",\"id\":1,\"account\":\"a\"}",
        "invalid JSON: duplicate object key near '\"op\"'");

    /* jansson's own words follow "invalid JSON: " */
    static const char *const broken[] = {
        "",
        "   ",
        "{",
        "{\"op\":\"cancel\",\"id\":1,\"account\":\"a\"} x",
        "{\"op\":\"cancel\",\"id\":1,\"account\":\"a\"}{}",
        "\"just a string\"",
        "42",
        "{'op':'cancel'}",
        "{\"op\":\"cancel\",\"id\":1,\"account\":\"a\",}",
        "{\"op\":\"cancel\",\"id\":01,\"account\":\"a\"}",
        "{\"op\":\"cancel\",\"id\":1,\"account\":\"a\\u0000b\"}",
        "{\"op\":\"cancel\",\"id\":1,\"account\":\"\xff\"}",
    };
    for (size_t i = 0; i < sizeof(broken) / sizeof(broken[0]); i++) {
        assert_int_equal(parse(f, broken[i]), LX_EFORMAT);
        assert_memory_equal(f->err, "invalid JSON: ", 14);
        assert_true(strlen(f->err) > 14);
    }
    /* a raw NUL byte inside the line */
    const char nul[] = "{\"op\":\"cancel\",\"id\":1,\0\"account\":\"a\"}";
    assert_int_equal(
        lx_cmdjson_parse(f->cj, &f->out, f->err, sizeof(f->err), f->e, nul, sizeof(nul) - 1),
        LX_EFORMAT);
    assert_memory_equal(f->err, "invalid JSON: ", 14);

    /* surrounding white space and a CR are fine */
    assert_int_equal(parse(f, "  {\"op\":\"cancel\",\"id\":1,\"account\":\"a\"}\r"), LX_OK);
    assert_int_equal(parse(f, "{ \"op\" : \"cancel\" , \"id\" : 1 , \"account\" : \"a\" }"), LX_OK);
}

static void test_reason_echo(void **state)
{
    fixture *f = *state;
    /* user strings in reasons are cut to 32 bytes and made printable ASCII */
    bad(f, "{\"op\":\"abcdefghijklmnopqrstuvwxyz0123456789\"}",
        "unknown op \"abcdefghijklmnopqrstuvwxyz012345...\"");
    bad(f, "{\"op\":\"x\\ty\\u00e9\"}", "unknown op \"x?y??\"");
    bad(f, "{\"op\":\"cancel\",\"id\":1,\"account\":\"a\",\"\\\"\":1}", "unknown field \"\"\"");
    /* a reason never overruns a small buffer */
    char small[8];
    const char *l = "{\"op\":\"nope\"}";
    assert_int_equal(lx_cmdjson_parse(f->cj, &f->out, small, sizeof(small), f->e, l, strlen(l)),
                     LX_EFORMAT);
    assert_string_equal(small, "unknown");
    assert_int_equal(lx_cmdjson_parse(f->cj, &f->out, NULL, 0, f->e, l, strlen(l)), LX_EFORMAT);
}

static void test_line_cap(void **state)
{
    fixture *f = *state;
    size_t n = LX_CMDJSON_LINE_MAX + 1;
    char *line = test_malloc(n);
    /* a valid command padded with spaces to one byte over the cap */
    memset(line, ' ', n);
    const char *cmd = "{\"op\":\"cancel\",\"id\":1,\"account\":\"a\"}";
    memcpy(line, cmd, strlen(cmd));
    assert_int_equal(lx_cmdjson_parse(f->cj, &f->out, f->err, sizeof(f->err), f->e, line, n),
                     LX_ETOOBIG);
    assert_string_equal(f->err, "line is longer than 1048576 bytes");
    assert_int_equal(lx_cmdjson_parse(f->cj, &f->out, f->err, sizeof(f->err), f->e, line, n - 1),
                     LX_OK);
    test_free(line);
}

/* ---- formatting ---- */

static void fmt_is(fixture *f, const lx_event *ev, const char *want)
{
    char buf[512];
    size_t n = lx_cmdjson_format_event(f->cj, f->e, buf, sizeof(buf), ev);
    assert_string_equal(buf, want);
    assert_int_equal(n, strlen(want));
}

static void test_format_order_events(void **state)
{
    fixture *f = *state;
    add_btc_usd(f);
    lx_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.type = LX_EV_ACCEPTED;
    ev.cmd = LX_CMD_ORDER;
    ev.id = 7;
    ev.u.order.price = 500;
    ev.u.order.qty = 3;
    fmt_is(f, &ev, "{\"ev\":\"accepted\",\"id\":7}\n");

    memset(&ev, 0, sizeof(ev));
    ev.type = LX_EV_REJECTED;
    ev.cmd = LX_CMD_ORDER;
    ev.id = 7;
    ev.reason = LX_R_INSUFFICIENT_BALANCE;
    fmt_is(f, &ev, "{\"ev\":\"rejected\",\"id\":7,\"reason\":\"insufficient_balance\"}\n");
    ev.cmd = LX_CMD_CANCEL;
    ev.reason = LX_R_NOT_OWNER;
    fmt_is(f, &ev, "{\"ev\":\"rejected\",\"id\":7,\"reason\":\"not_owner\"}\n");
    ev.cmd = LX_CMD_REPLACE;
    ev.reason = LX_R_UNKNOWN_ORDER;
    fmt_is(f, &ev, "{\"ev\":\"rejected\",\"id\":7,\"reason\":\"unknown_order\"}\n");

    memset(&ev, 0, sizeof(ev));
    ev.type = LX_EV_FILL;
    ev.cmd = LX_CMD_ORDER;
    ev.side = LX_BUY;
    ev.market = 0;
    ev.id = 7;
    ev.account = 1;
    ev.u.fill.maker = 3;
    ev.u.fill.maker_account = 2;
    ev.u.fill.price = 500;
    ev.u.fill.qty = 2;
    fmt_is(f, &ev,
           "{\"ev\":\"fill\",\"market\":\"BTC-USD\",\"maker\":3,\"taker\":7,\"price\":500,"
           "\"qty\":2,\"taker_side\":\"buy\",\"maker_fee\":0,\"taker_fee\":0}\n");
    ev.side = LX_SELL;
    ev.u.fill.maker_fee = 9223372036854775807u;
    ev.u.fill.taker_fee = 11;
    fmt_is(f, &ev,
           "{\"ev\":\"fill\",\"market\":\"BTC-USD\",\"maker\":3,\"taker\":7,\"price\":500,"
           "\"qty\":2,\"taker_side\":\"sell\",\"maker_fee\":9223372036854775807,"
           "\"taker_fee\":11}\n");
    /* a market the engine does not know is written as its id */
    ev.market = 9;
    fmt_is(f, &ev,
           "{\"ev\":\"fill\",\"market\":9,\"maker\":3,\"taker\":7,\"price\":500,"
           "\"qty\":2,\"taker_side\":\"sell\",\"maker_fee\":9223372036854775807,"
           "\"taker_fee\":11}\n");

    static const struct {
        lx_reason r;
        const char *name;
    } cancels[] = {{LX_R_USER, "user"},
                   {LX_R_IOC, "ioc"},
                   {LX_R_MARKET, "market"},
                   {LX_R_STP, "stp"},
                   {LX_R_REPLACE, "replace"}};
    for (size_t i = 0; i < 5; i++) {
        char want[128];
        memset(&ev, 0, sizeof(ev));
        ev.type = LX_EV_CANCELLED;
        ev.cmd = LX_CMD_ORDER;
        ev.id = 7;
        ev.reason = (uint8_t)cancels[i].r;
        ev.u.cancel.remaining = 1;
        snprintf(want, sizeof(want),
                 "{\"ev\":\"cancelled\",\"id\":7,\"remaining\":1,\"reason\":\"%s\"}\n",
                 cancels[i].name);
        fmt_is(f, &ev, want);
    }

    memset(&ev, 0, sizeof(ev));
    ev.type = LX_EV_REPLACED;
    ev.cmd = LX_CMD_REPLACE;
    ev.id = 7;
    ev.u.order.price = 499;
    ev.u.order.qty = 2;
    fmt_is(f, &ev, "{\"ev\":\"replaced\",\"id\":7,\"price\":499,\"qty\":2}\n");
}

static void test_format_transfer_events(void **state)
{
    fixture *f = *state;
    add_btc_usd(f); /* assets: BTC = 0, USD = 1 */
    lx_event ev;
    assert_int_equal(
        parse(f, "{\"op\":\"deposit\",\"account\":\"alice\",\"asset\":\"USD\",\"amount\":1000}"),
        LX_OK);
    memset(&ev, 0, sizeof(ev));
    ev.type = LX_EV_BALANCE;
    ev.cmd = LX_CMD_DEPOSIT;
    ev.market = 1;
    ev.account = 1;
    ev.u.balance.amount = 1000;
    ev.u.balance.available = 1200;
    ev.u.balance.reserved = 300;
    fmt_is(f, &ev,
           "{\"ev\":\"deposit\",\"account\":\"alice\",\"asset\":\"USD\",\"amount\":1000,"
           "\"available\":1200,\"reserved\":300}\n");
    ev.cmd = LX_CMD_WITHDRAW;
    ev.market = 0;
    fmt_is(f, &ev,
           "{\"ev\":\"withdraw\",\"account\":\"alice\",\"asset\":\"BTC\",\"amount\":1000,"
           "\"available\":1200,\"reserved\":300}\n");
    /* unknown account and asset ids are written as numbers */
    ev.account = 55;
    ev.market = 7;
    fmt_is(f, &ev,
           "{\"ev\":\"withdraw\",\"account\":55,\"asset\":7,\"amount\":1000,"
           "\"available\":1200,\"reserved\":300}\n");

    /* rejects name the asset of the command just parsed */
    assert_int_equal(
        parse(f, "{\"op\":\"withdraw\",\"account\":\"bob\",\"asset\":\"EUR\",\"amount\":5}"),
        LX_OK);
    memset(&ev, 0, sizeof(ev));
    ev.type = LX_EV_REJECTED;
    ev.cmd = LX_CMD_WITHDRAW;
    ev.account = 2;
    ev.reason = LX_R_UNKNOWN_ASSET;
    fmt_is(f, &ev,
           "{\"ev\":\"rejected\",\"op\":\"withdraw\",\"account\":\"bob\",\"asset\":\"EUR\","
           "\"reason\":\"unknown_asset\"}\n");
    assert_int_equal(
        parse(f, "{\"op\":\"deposit\",\"account\":\"bob\",\"asset\":\"USD\",\"amount\":0}"), LX_OK);
    ev.cmd = LX_CMD_DEPOSIT;
    ev.reason = LX_R_BAD_AMOUNT;
    fmt_is(f, &ev,
           "{\"ev\":\"rejected\",\"op\":\"deposit\",\"account\":\"bob\",\"asset\":\"USD\","
           "\"reason\":\"bad_amount\"}\n");
    /* after a line of another kind (or a bad line) the asset is left out */
    assert_int_equal(parse(f, "{\"op\":\"cancel\",\"id\":1,\"account\":\"bob\"}"), LX_OK);
    fmt_is(f, &ev,
           "{\"ev\":\"rejected\",\"op\":\"deposit\",\"account\":\"bob\","
           "\"reason\":\"bad_amount\"}\n");
}

static void test_format_market_events(void **state)
{
    fixture *f = *state;
    add_btc_usd(f);
    lx_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = LX_EV_MARKET;
    ev.cmd = LX_CMD_MARKET;
    ev.market = 0;
    fmt_is(f, &ev,
           "{\"ev\":\"market\",\"market\":\"BTC-USD\",\"id\":0,\"base\":\"BTC\","
           "\"quote\":\"USD\"}\n");

    assert_int_equal(parse(f, "{\"op\":\"market\",\"market\":\"BTC-USD\",\"base\":\"BTC\","
                              "\"quote\":\"USD\",\"lot\":1,\"tick\":1}"),
                     LX_OK);
    memset(&ev, 0, sizeof(ev));
    ev.type = LX_EV_REJECTED;
    ev.cmd = LX_CMD_MARKET;
    ev.reason = LX_R_DUPLICATE_MARKET;
    fmt_is(f, &ev,
           "{\"ev\":\"rejected\",\"op\":\"market\",\"market\":\"BTC-USD\","
           "\"reason\":\"duplicate_market\"}\n");
    bad(f, "{\"op\":\"market\"}", "missing field \"market\"");
    fmt_is(f, &ev, "{\"ev\":\"rejected\",\"op\":\"market\",\"reason\":\"duplicate_market\"}\n");
}

static void test_format_limits(void **state)
{
    fixture *f = *state;
    lx_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = LX_EV_ACCEPTED;
    ev.id = 123;
    const char *want = "{\"ev\":\"accepted\",\"id\":123}\n";
    size_t need = strlen(want) + 1;
    char buf[64];
    for (size_t len = 0; len < need; len++) {
        memset(buf, 'x', sizeof(buf));
        assert_int_equal(lx_cmdjson_format_event(f->cj, f->e, buf, len, &ev), 0);
        if (len > 0)
            assert_int_equal(buf[0], '\0');
        assert_int_equal(buf[len], 'x'); /* nothing written past len */
    }
    assert_int_equal(lx_cmdjson_format_event(f->cj, f->e, buf, need, &ev), need - 1);
    assert_string_equal(buf, want);
    ev.type = 99;
    assert_int_equal(lx_cmdjson_format_event(f->cj, f->e, buf, sizeof(buf), &ev), 0);
    assert_int_equal(lx_cmdjson_format_event(f->cj, f->e, buf, sizeof(buf), NULL), 0);
    assert_int_equal(lx_cmdjson_format_event(f->cj, f->e, NULL, 10, &ev), 0);
}

static void test_format_final_lines(void **state)
{
    fixture *f = *state;
    add_btc_usd(f);
    char buf[512];
    lx_balance b = {1, 1, 250, 40};
    size_t n;
    /* names are escaped */
    assert_int_equal(parse(f, "{\"op\":\"cancel\",\"id\":1,\"account\":\"q\\\"\\\\\"}"), LX_OK);
    b.account = f->out.cmd.u.cancel.account;
    n = lx_cmdjson_format_balance(f->cj, f->e, buf, sizeof(buf), &b);
    assert_string_equal(
        buf, "{\"ev\":\"balance\",\"account\":\"q\\\"\\\\\",\"asset\":\"USD\",\"available\":250,"
             "\"reserved\":40}\n");
    assert_int_equal(n, strlen(buf));
    b.account = 0;
    b.asset = 0;
    lx_cmdjson_format_balance(f->cj, f->e, buf, sizeof(buf), &b);
    assert_string_equal(buf, "{\"ev\":\"balance\",\"account\":\"fees\",\"asset\":\"BTC\","
                             "\"available\":250,\"reserved\":40}\n");

    lx_level bids[2] = {{500, 3, 1}, {499, 10, 2}};
    lx_level asks[1] = {{501, 1, 1}};
    n = lx_cmdjson_format_book(f->e, buf, sizeof(buf), 0, bids, 2, asks, 1);
    assert_string_equal(
        buf, "{\"ev\":\"book\",\"market\":\"BTC-USD\",\"bids\":[[500,3],[499,10]],\"asks\":[["
             "501,1]]}\n");
    assert_int_equal(n, strlen(buf));
    n = lx_cmdjson_format_book(f->e, buf, sizeof(buf), 0, NULL, 0, NULL, 0);
    assert_string_equal(buf, "{\"ev\":\"book\",\"market\":\"BTC-USD\",\"bids\":[],\"asks\":[]}\n");
    assert_int_equal(lx_cmdjson_format_book(f->e, buf, 20, 0, bids, 2, asks, 1), 0);

    n = lx_cmdjson_format_error(buf, sizeof(buf), 12, "unknown op \"x\\y\"\t");
    assert_string_equal(
        buf, "{\"ev\":\"error\",\"line\":12,\"reason\":\"unknown op \\\"x\\\\y\\\"\\u0009\"}\n");
    assert_int_equal(n, strlen(buf));
    assert_int_equal(lx_cmdjson_format_error(buf, 10, 12, "x"), 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_context),
        T(test_account_ids),
        T(test_many_accounts),
        T(test_fee_name),
        T(test_market),
        T(test_transfers),
        T(test_order_full),
        T(test_order_defaults),
        T(test_order_enums),
        T(test_order_missing),
        T(test_unknown_market),
        T(test_cancel_replace),
        T(test_numbers),
        T(test_string_limits),
        T(test_malformed_lines),
        T(test_reason_echo),
        T(test_line_cap),
        T(test_format_order_events),
        T(test_format_transfer_events),
        T(test_format_market_events),
        T(test_format_limits),
        T(test_format_final_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
