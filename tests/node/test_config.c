/* Tests for the multi-node configuration: defaults, environment variables
 * under flags, every bad value rejected with a message, and markets files. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../node/node_int.h"

/* A fake environment: NAME=VALUE strings. */
static const char *fake_env[32];

static const char *env_get(const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; fake_env[i]; i++)
        if (strncmp(fake_env[i], name, n) == 0 && fake_env[i][n] == '=')
            return fake_env[i] + n + 1;
    return NULL;
}

static lx__config cfg;
static char err[512];

/* Parses argv (NULL-terminated, argv[0] added) with the fake environment. */
static lx_err parse(const char *const *args)
{
    char *argv[64];
    int argc = 0;
    argv[argc++] = (char *)"multi-node";
    for (size_t i = 0; args && args[i]; i++)
        argv[argc++] = (char *)args[i];
    argv[argc] = NULL;
    return lx__config_parse(&cfg, err, sizeof err, argc, argv, env_get);
}

static void test_defaults(void **state)
{
    (void)state;
    fake_env[0] = NULL;
    assert_int_equal(parse(NULL), LX_OK);
    assert_string_equal(cfg.node_id, "node0");
    assert_int_equal(cfg.base_port, 5000);
    assert_int_equal(cfg.npeers, 0);
    assert_int_equal(cfg.is_leader, 0);
    assert_string_equal(cfg.consensus, "leader");
    assert_string_equal(cfg.data_dir, "data/node0");
    assert_string_equal(cfg.bind, "127.0.0.1");
    assert_int_equal(cfg.hwm, 10000);
    assert_int_equal(cfg.block_max_orders, 1024);
    assert_int_equal(cfg.block_max_us, 1000);
    assert_int_equal(cfg.block_min_us, 1000);
    assert_int_equal(cfg.fsync, 1);
    assert_int_equal(cfg.direct_sync_us, 50);
    assert_int_equal(cfg.dev_faucet, 0);
    assert_int_equal(cfg.heartbeat_ms, 100);
    assert_int_equal(cfg.metrics_interval_us, 10000000);
    assert_int_equal(cfg.snapshot_every, 10000);
    assert_int_equal(cfg.compact, 1);
    assert_int_equal(cfg.segment_bytes, 64u << 20);
    assert_int_equal(cfg.reserve_orders, 1u << 20);
    assert_int_equal(cfg.topology, LX__TOPO_MESH);
    assert_int_equal(cfg.cluster_size, 1);
    assert_string_equal(cfg.log_file, "");
    assert_int_equal(cfg.nmarkets, 2);
    assert_string_equal(cfg.markets[0].name, "BTC-USD");
    assert_string_equal(cfg.markets[0].base, "BTC");
    assert_string_equal(cfg.markets[0].quote, "USD");
    assert_string_equal(cfg.markets[1].name, "ETH-USD");
    assert_int_equal(cfg.markets[1].lot, 1);
    assert_int_equal(cfg.markets[1].tick, 1);
    assert_int_equal(cfg.markets[1].min_qty, 1);
    assert_int_equal(cfg.markets[1].taker_fee_bps, 0);
}

static void test_readme_command_lines(void **state)
{
    (void)state;
    fake_env[0] = NULL;
    const char *a[] = {"--node",   "node0",   "--port",
                       "5000",     "--peers", "tcp://localhost:5100,tcp://localhost:5200",
                       "--leader", NULL};
    assert_int_equal(parse(a), LX_OK);
    assert_string_equal(cfg.node_id, "node0");
    assert_int_equal(cfg.is_leader, 1);
    assert_int_equal(cfg.npeers, 2);
    assert_string_equal(cfg.peers[0].host, "localhost");
    assert_int_equal(cfg.peers[0].port, 5100);
    assert_int_equal(cfg.peers[1].port, 5200);
    const char *b[] = {"--node", "node2",   "--port",
                       "5200",   "--peers", "tcp://localhost:5000,tcp://localhost:5100",
                       NULL};
    assert_int_equal(parse(b), LX_OK);
    assert_int_equal(cfg.is_leader, 0);
    assert_string_equal(cfg.data_dir, "data/node2");
}

static void test_env_and_flag_precedence(void **state)
{
    (void)state;
    const char *env[] = {"NODE_ID=envnode",
                         "BASE_PORT=6000",
                         "PEERS=tcp://10.0.0.2:6100",
                         "IS_LEADER=true",
                         "CONSENSUS=leader",
                         "DATA_DIR=/tmp/envdata",
                         "LOG_FILE=/tmp/env.log",
                         "METRICS_INTERVAL=500ms",
                         "BIND=0.0.0.0",
                         "HWM=77",
                         "BLOCK_MAX_ORDERS=10",
                         "BLOCK_MAX_US=250",
                         "BLOCK_MIN_US=0",
                         "FSYNC=off",
                         "DIRECT_SYNC_US=0",
                         "DEV_FAUCET=1",
                         "HEARTBEAT_MS=50",
                         "SNAPSHOT_EVERY=0",
                         "COMPACT=off",
                         "JOURNAL_SEGMENT_BYTES=4096",
                         "RESERVE_ORDERS=0",
                         NULL};
    memcpy(fake_env, env, sizeof env);
    assert_int_equal(parse(NULL), LX_OK);
    assert_string_equal(cfg.node_id, "envnode");
    assert_int_equal(cfg.base_port, 6000);
    assert_int_equal(cfg.npeers, 1);
    assert_string_equal(cfg.peers[0].host, "10.0.0.2");
    assert_int_equal(cfg.is_leader, 1);
    assert_string_equal(cfg.data_dir, "/tmp/envdata");
    assert_string_equal(cfg.log_file, "/tmp/env.log");
    assert_int_equal(cfg.metrics_interval_us, 500000);
    assert_string_equal(cfg.bind, "0.0.0.0");
    assert_int_equal(cfg.hwm, 77);
    assert_int_equal(cfg.block_max_orders, 10);
    assert_int_equal(cfg.block_max_us, 250);
    assert_int_equal(cfg.block_min_us, 0);
    assert_int_equal(cfg.fsync, 0);
    assert_int_equal(cfg.direct_sync_us, 0);
    assert_int_equal(cfg.dev_faucet, 1);
    assert_int_equal(cfg.heartbeat_ms, 50);
    assert_int_equal(cfg.snapshot_every, 0);
    assert_int_equal(cfg.compact, 0);
    assert_int_equal(cfg.segment_bytes, 4096);
    assert_int_equal(cfg.reserve_orders, 0);

    /* Every flag wins over its variable, whatever the order. */
    const char *a[] = {"--node=flagnode",
                       "--port",
                       "7000",
                       "--peers",
                       "tcp://h:7100,tcp://h:7200",
                       "--leader=false",
                       "--data-dir",
                       "/tmp/flagdata",
                       "--log-file",
                       "/tmp/f.log",
                       "--metrics-interval",
                       "3",
                       "--bind",
                       "127.0.0.2",
                       "--hwm",
                       "5",
                       "--block-max-orders",
                       "7",
                       "--block-max-us",
                       "9",
                       "--block-min-us",
                       "300",
                       "--fsync",
                       "on",
                       "--direct-sync-us",
                       "200",
                       "--dev-faucet=false",
                       "--heartbeat-ms",
                       "20",
                       "--snapshot-every",
                       "4",
                       "--compact=on",
                       "--journal-segment-bytes",
                       "65536",
                       "--reserve-orders",
                       "268435456",
                       NULL};
    assert_int_equal(parse(a), LX_OK);
    assert_string_equal(cfg.node_id, "flagnode");
    assert_int_equal(cfg.base_port, 7000);
    assert_int_equal(cfg.npeers, 2);
    assert_int_equal(cfg.is_leader, 0);
    assert_string_equal(cfg.data_dir, "/tmp/flagdata");
    assert_string_equal(cfg.log_file, "/tmp/f.log");
    assert_int_equal(cfg.metrics_interval_us, 3000000);
    assert_string_equal(cfg.bind, "127.0.0.2");
    assert_int_equal(cfg.hwm, 5);
    assert_int_equal(cfg.block_max_orders, 7);
    assert_int_equal(cfg.block_max_us, 9);
    assert_int_equal(cfg.block_min_us, 300);
    assert_int_equal(cfg.fsync, 1);
    assert_int_equal(cfg.direct_sync_us, 200);
    assert_int_equal(cfg.dev_faucet, 0);
    assert_int_equal(cfg.heartbeat_ms, 20);
    assert_int_equal(cfg.snapshot_every, 4);
    assert_int_equal(cfg.compact, 1);
    assert_int_equal(cfg.segment_bytes, 65536);
    assert_int_equal(cfg.reserve_orders, 268435456);
    fake_env[0] = NULL;
}

static void test_data_dir_follows_node(void **state)
{
    (void)state;
    const char *env[] = {"NODE_ID=n7", NULL};
    memcpy(fake_env, env, sizeof env);
    assert_int_equal(parse(NULL), LX_OK);
    assert_string_equal(cfg.data_dir, "data/n7");
    fake_env[0] = NULL;
}

static void test_durations(void **state)
{
    (void)state;
    assert_int_equal(lx__parse_duration_us("10s"), 10000000);
    assert_int_equal(lx__parse_duration_us("10"), 10000000);
    assert_int_equal(lx__parse_duration_us("500ms"), 500000);
    assert_int_equal(lx__parse_duration_us("250us"), 250);
    assert_int_equal(lx__parse_duration_us("2m"), 120000000);
    assert_int_equal(lx__parse_duration_us(""), 0);
    assert_int_equal(lx__parse_duration_us("s"), 0);
    assert_int_equal(lx__parse_duration_us("10h"), 0);
    assert_int_equal(lx__parse_duration_us("-1s"), 0);
    assert_int_equal(lx__parse_duration_us("1.5s"), 0);
    assert_int_equal(lx__parse_duration_us("9999999999999s"), 0);
}

/* Each bad argument list is refused with a message that contains want. */
static void expect_bad(const char *const *args, const char *want)
{
    err[0] = 0;
    lx_err rc = parse(args);
    if (rc == LX_OK)
        fail_msg("accepted: %s %s", args[0] ? args[0] : "(no arguments)",
                 args[0] && args[1] ? args[1] : "");
    if (!strstr(err, want))
        fail_msg("message \"%s\" does not contain \"%s\"", err, want);
}

static void test_bad_values(void **state)
{
    (void)state;
    fake_env[0] = NULL;
    static const struct {
        const char *args[4];
        const char *want;
    } cases[] = {
        {{"--node", "", NULL}, "bad node id"},
        {{"--node", "a b", NULL}, "bad node id"},
        {{"--node", "0123456789012345678901234567890123", NULL}, "bad node id"},
        {{"--port", "0", NULL}, "bad port"},
        {{"--port", "65533", NULL}, "bad port"},
        {{"--port", "50x", NULL}, "bad port"},
        {{"--port", NULL}, "needs a value"},
        {{"--peers", "localhost:5100", NULL}, "not tcp://HOST:PORT"},
        {{"--peers", "tcp://localhost", NULL}, "no port"},
        {{"--peers", "tcp://localhost:0", NULL}, "bad port"},
        {{"--peers", "tcp://:5100", NULL}, "bad host"},
        {{"--peers", "tcp://a:1,,tcp://b:2", NULL}, "empty entry"},
        {{"--peers", "tcp://a:1,", NULL}, "trailing comma"},
        {{"--leader=maybe", NULL}, "true or false"},
        {{"--consensus", "paxos", NULL}, "unknown consensus"},
        {{"--data-dir", "", NULL}, "path"},
        {{"--metrics-interval", "0", NULL}, "bad interval"},
        {{"--metrics-interval", "10x", NULL}, "bad interval"},
        {{"--bind", "a/b", NULL}, "bad bind"},
        {{"--hwm", "0", NULL}, "bad high-water"},
        {{"--block-max-orders", "0", NULL}, "bad block size"},
        {{"--block-max-orders", "16385", NULL}, "bad block size"},
        {{"--block-max-us", "0", NULL}, "bad block time"},
        {{"--block-min-us", "10000001", NULL}, "bad block pacing"},
        {{"--block-min-us", "soon", NULL}, "bad block pacing"},
        {{"--fsync", "sometimes", NULL}, "on or off"},
        {{"--direct-sync-us", "1000001", NULL}, "bad direct sync limit"},
        {{"--direct-sync-us", "fast", NULL}, "bad direct sync limit"},
        {{"--dev-faucet=2", NULL}, "true or false"},
        {{"--heartbeat-ms", "0", NULL}, "bad heartbeat"},
        {{"--snapshot-every", "-1", NULL}, "bad snapshot"},
        {{"--compact", "maybe", NULL}, "on or off"},
        {{"--journal-segment-bytes", "4095", NULL}, "bad segment size"},
        {{"--journal-segment-bytes", "1099511627777", NULL}, "bad segment size"},
        {{"--reserve-orders", "268435457", NULL}, "bad order reserve"},
        {{"--reserve-orders", "1e6", NULL}, "bad order reserve"},
        {{"--bogus", NULL}, "unknown option"},
        {{"stray", NULL}, "unexpected argument"},
        {{"--markets", "/nonexistent/markets.json", NULL}, "cannot read"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_bad(cases[i].args, cases[i].want);

    /* A bad variable is named in the message too. */
    const char *env[] = {"HWM=lots", NULL};
    memcpy(fake_env, env, sizeof env);
    const char *none[] = {NULL};
    expect_bad(none, "HWM");
    fake_env[0] = NULL;
}

/* --topology and --cluster-size: the docs/topologies.md command lines, the
 * variables, and every inconsistent combination refused with a message. */
static void test_topology(void **state)
{
    (void)state;
    fake_env[0] = NULL;
    const char *mesh[] = {"--peers", "tcp://localhost:5100,tcp://localhost:5200", NULL};
    assert_int_equal(parse(mesh), LX_OK);
    assert_int_equal(cfg.topology, LX__TOPO_MESH);
    assert_int_equal(cfg.cluster_size, 3);
    const char *mesh3[] = {"--peers", "tcp://localhost:5100,tcp://localhost:5200", "--cluster-size",
                           "3", NULL};
    assert_int_equal(parse(mesh3), LX_OK);
    assert_int_equal(cfg.cluster_size, 3);

    /* A ring of five: node2 links to node1 and node3. */
    const char *ring[] = {"--node",     "node2",   "--port",
                          "5200",       "--peers", "tcp://localhost:5100,tcp://localhost:5300",
                          "--topology", "ring",    "--cluster-size",
                          "5",          NULL};
    assert_int_equal(parse(ring), LX_OK);
    assert_int_equal(cfg.topology, LX__TOPO_RING);
    assert_int_equal(cfg.cluster_size, 5);
    assert_int_equal(cfg.npeers, 2);

    /* A star of three: the hub lists both others, a follower only the hub. */
    const char *hub[] = {"--peers",         "tcp://localhost:5100,tcp://localhost:5200",
                         "--topology=star", "--cluster-size=3",
                         "--leader",        NULL};
    assert_int_equal(parse(hub), LX_OK);
    assert_int_equal(cfg.topology, LX__TOPO_STAR);
    assert_int_equal(cfg.cluster_size, 3);
    const char *leaf[] = {"--peers", "tcp://localhost:5000", "--topology", "star", NULL};
    const char *env[] = {"CLUSTER_SIZE=3", NULL};
    memcpy(fake_env, env, sizeof env);
    assert_int_equal(parse(leaf), LX_OK);
    assert_int_equal(cfg.cluster_size, 3);
    const char *env2[] = {"TOPOLOGY=ring", "CLUSTER_SIZE=4", NULL};
    memcpy(fake_env, env2, sizeof env2);
    assert_int_equal(parse(leaf), LX_OK); /* the flag wins over TOPOLOGY */
    assert_int_equal(cfg.topology, LX__TOPO_STAR);
    assert_int_equal(cfg.cluster_size, 4);
    const char *none[] = {"--peers", "tcp://localhost:5000", NULL};
    assert_int_equal(parse(none), LX_OK);
    assert_int_equal(cfg.topology, LX__TOPO_RING);
    fake_env[0] = NULL;

    static const struct {
        const char *args[8];
        const char *want;
    } cases[] = {
        {{"--topology", "tree", NULL}, "bad topology"},
        {{"--cluster-size", "0", NULL}, "bad cluster size"},
        {{"--cluster-size", "18", NULL}, "bad cluster size"},
        {{"--peers", "tcp://a:1,tcp://b:1", "--cluster-size", "5", NULL}, "a mesh has every"},
        {{"--peers", "tcp://a:1,tcp://b:1", "--topology", "ring", NULL}, "needs --cluster-size"},
        {{"--peers", "tcp://a:1,tcp://b:1", "--topology", "ring", "--cluster-size", "2", NULL},
         "make 3"},
        {{"--peers", "tcp://a:1,tcp://b:1,tcp://c:1", "--topology", "ring", "--cluster-size", "5",
          NULL},
         "two neighbours"},
        {{"--peers", "tcp://a:1,tcp://b:1", "--topology", "star", "--cluster-size", "5", NULL},
         "the hub lists the 4 others"},
        {{"--topology", "star", "--cluster-size", "3", NULL}, "lists no node"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_bad(cases[i].args, cases[i].want);
}

static void test_consensus_modes(void **state)
{
    (void)state;
    fake_env[0] = NULL;
    const char *names[] = {"raft", "byzantine", "pbft"};
    for (size_t i = 0; i < 3; i++) {
        const char *a[] = {"--consensus", names[i], NULL};
        assert_int_equal(parse(a), LX_EUNSUPPORTED);
        assert_non_null(strstr(err, "not available in this version"));
    }
    const char *ok[] = {"--consensus", "leader", NULL};
    assert_int_equal(parse(ok), LX_OK);
}

/* --cluster-id: a default, the variable under the flag, bad names refused,
 * and the tag: SHA-256("lxdex-cluster" NUL id NUL consensus), first 8
 * bytes, as computed independently (Python's hashlib). */
static void test_cluster_id(void **state)
{
    (void)state;
    static const uint8_t lxdex_leader[] = {0x09, 0x03, 0xc9, 0x75, 0xba, 0x3b, 0xc9, 0x62};
    static const uint8_t other_leader[] = {0x7b, 0x37, 0xc5, 0x82, 0x00, 0x04, 0xd6, 0x70};
    fake_env[0] = NULL;
    assert_int_equal(parse(NULL), LX_OK);
    assert_string_equal(cfg.cluster_id, "lxdex");
    assert_memory_equal(cfg.cluster_tag, lxdex_leader, sizeof lxdex_leader);
    fake_env[0] = "CLUSTER_ID=other";
    fake_env[1] = NULL;
    assert_int_equal(parse(NULL), LX_OK);
    assert_string_equal(cfg.cluster_id, "other");
    assert_memory_equal(cfg.cluster_tag, other_leader, sizeof other_leader);
    const char *flag[] = {"--cluster-id", "lxdex", NULL};
    assert_int_equal(parse(flag), LX_OK); /* the flag wins */
    assert_memory_equal(cfg.cluster_tag, lxdex_leader, sizeof lxdex_leader);
    fake_env[0] = NULL;

    const char *bad[][3] = {
        {"--cluster-id", "", NULL},
        {"--cluster-id", "a b", NULL},
        {"--cluster-id", "x/y", NULL},
        {"--cluster-id", "a123456789b123456789c123456789d123456789e123456789f123456789g123", NULL}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(parse(bad[i]), LX_EINVAL);
        assert_non_null(strstr(err, "bad cluster id"));
    }
    const char *longest[] = {
        "--cluster-id", "a123456789b123456789c123456789d123456789e123456789f123456789g12", NULL};
    assert_int_equal(parse(longest), LX_OK);

    uint8_t t[LX__CLUSTER_TAG_LEN];
    assert_int_equal(lx__cluster_tag(t, "lxdex", "leader"), LX_OK);
    assert_memory_equal(t, lxdex_leader, sizeof t);
    assert_int_equal(lx__cluster_tag(t, "lxdex", "raft"), LX_OK);
    assert_memory_not_equal(t, lxdex_leader, sizeof t);
    assert_int_equal(lx__cluster_tag(t, "", "leader"), LX_EINVAL);
    assert_int_equal(lx__cluster_tag(t, "lxdex", ""), LX_EINVAL);
}

static void test_curve_options(void **state)
{
    (void)state;
    fake_env[0] = NULL;
    assert_int_equal(parse(NULL), LX_OK);
    assert_int_equal(cfg.curve.key_file[0], 0);
    assert_int_equal(cfg.curve.nnumbers, 0);
    assert_int_equal(cfg.curve.insecure, 0);

    const char *a[] = {
        "--curve-key",   "k/node0.key", "--peer-keys",    "k/nodes.allow",
        "--client-keys", "k/c.allow",   "--peer-numbers", " 7, 2 ,18446744073709551615",
        "--insecure",    NULL};
    assert_int_equal(parse(a), LX_OK);
    assert_string_equal(cfg.curve.key_file, "k/node0.key");
    assert_string_equal(cfg.curve.peer_keys, "k/nodes.allow");
    assert_string_equal(cfg.curve.client_keys, "k/c.allow");
    assert_int_equal(cfg.curve.nnumbers, 3);
    assert_true(cfg.curve.numbers[0] == 7 && cfg.curve.numbers[1] == 2);
    assert_true(cfg.curve.numbers[2] == UINT64_MAX);
    assert_int_equal(cfg.curve.insecure, 1);

    /* The variables, under the flags. */
    const char *env[] = {"CURVE_KEY=e.key", "PEER_KEYS=e.allow", "CLIENT_KEYS=ec.allow",
                         "PEER_NUMBERS=4",  "INSECURE=yes",      NULL};
    memcpy(fake_env, env, sizeof env);
    const char *b[] = {"--insecure=false", "--peer-numbers", "5,6", NULL};
    assert_int_equal(parse(b), LX_OK);
    assert_string_equal(cfg.curve.key_file, "e.key");
    assert_string_equal(cfg.curve.client_keys, "ec.allow");
    assert_int_equal(cfg.curve.nnumbers, 2);
    assert_true(cfg.curve.numbers[1] == 6);
    assert_int_equal(cfg.curve.insecure, 0);
    fake_env[0] = NULL;

    struct {
        const char *args[4];
        const char *want;
    } cases[] = {
        {{"--peer-numbers", "1,,2", NULL}, "bad entry"},
        {{"--peer-numbers", "1,", NULL}, "trailing comma"},
        {{"--peer-numbers", "x", NULL}, "not a node number"},
        {{"--peer-numbers", "18446744073709551616", NULL}, "not a node number"},
        {{"--peer-numbers", "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17", NULL}, "more than 16"},
        {{"--curve-key", "", NULL}, "path"},
        {{"--insecure=perhaps", NULL}, "true or false"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_bad(cases[i].args, cases[i].want);
    assert_non_null(strstr(lx__usage, "--curve-key"));
    assert_non_null(strstr(lx__usage, "--insecure"));
}

static void test_help(void **state)
{
    (void)state;
    const char *a[] = {"--port", "1", "--help", NULL};
    assert_int_equal(parse(a), LX_OK);
    assert_int_equal(cfg.help, 1);
    assert_non_null(strstr(lx__usage, "--block-max-orders"));
}

static char *write_tmp(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/lx-markets-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
    return path;
}

static void expect_markets_bad(const char *text, const char *want)
{
    char *p = write_tmp(text);
    const char *a[] = {"--markets", p, NULL};
    lx_err rc = parse(a);
    unlink(p);
    if (rc == LX_OK)
        fail_msg("accepted markets file: %s", text);
    if (!strstr(err, want))
        fail_msg("message \"%s\" does not contain \"%s\"", err, want);
}

static void test_markets_file(void **state)
{
    (void)state;
    fake_env[0] = NULL;
    char *p = write_tmp(
        "[{\"op\":\"market\",\"market\":\"SOL-USDC\",\"base\":\"SOL\",\"quote\":\"USDC\","
        "\"lot\":1000,\"tick\":5,\"min_qty\":2,\"maker_fee_bps\":1,\"taker_fee_bps\":3},\n"
        " {\"market\":\"LUX-USD\",\"base\":\"LUX\",\"quote\":\"USD\",\"lot\":1,\"tick\":1}]\n");
    const char *a[] = {"--markets", p, NULL};
    assert_int_equal(parse(a), LX_OK);
    unlink(p);
    assert_int_equal(cfg.nmarkets, 2);
    assert_string_equal(cfg.markets[0].name, "SOL-USDC");
    assert_string_equal(cfg.markets[0].quote, "USDC");
    assert_int_equal(cfg.markets[0].lot, 1000);
    assert_int_equal(cfg.markets[0].tick, 5);
    assert_int_equal(cfg.markets[0].min_qty, 2);
    assert_int_equal(cfg.markets[0].maker_fee_bps, 1);
    assert_int_equal(cfg.markets[0].taker_fee_bps, 3);
    assert_string_equal(cfg.markets[1].name, "LUX-USD");
    assert_int_equal(cfg.markets[1].min_qty, 1); /* the lx-replay default */

    expect_markets_bad("{\"market\":\"A-B\"}", "JSON array");
    expect_markets_bad("[]", "1 to 256 markets");
    expect_markets_bad("[1]", "not an object");
    expect_markets_bad("[{", "line");
    expect_markets_bad("[{\"op\":\"order\",\"market\":\"A-B\"}]", "\"op\" must be \"market\"");
    expect_markets_bad("[{\"market\":\"A-B\",\"base\":\"A\",\"quote\":\"B\"}]", "lot");
    expect_markets_bad("[{\"market\":\"A-B\",\"base\":\"A\",\"quote\":\"B\",\"lot\":1,\"tick\":1,"
                       "\"colour\":1}]",
                       "unknown field");
    expect_markets_bad("[{\"market\":\"A-B\",\"base\":\"A\",\"quote\":\"A\",\"lot\":1,\"tick\":1}]",
                       "bad_market");
    expect_markets_bad("[{\"market\":\"A-B\",\"base\":\"A\",\"quote\":\"B\",\"lot\":0,\"tick\":1}]",
                       "bad_market");
    expect_markets_bad("[{\"market\":\"A-B\",\"base\":\"A\",\"quote\":\"B\",\"lot\":1,\"tick\":1},"
                       "{\"market\":\"A-B\",\"base\":\"A\",\"quote\":\"B\",\"lot\":1,\"tick\":1}]",
                       "duplicate_market");
    expect_markets_bad("[{\"market\":\"A-B\",\"base\":\"A\",\"quote\":\"B\",\"lot\":1,\"tick\":1,"
                       "\"taker_fee_bps\":10001}]",
                       "bad_market");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_readme_command_lines),
        cmocka_unit_test(test_env_and_flag_precedence),
        cmocka_unit_test(test_data_dir_follows_node),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_topology),
        cmocka_unit_test(test_consensus_modes),
        cmocka_unit_test(test_cluster_id),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_curve_options),
        cmocka_unit_test(test_markets_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
