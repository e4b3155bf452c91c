/* Tests for the daemon's CURVE security (node/auth.c): loopback detection,
 * the checks between the key options, binding a request to an account, the
 * not_owner replies, and loading the key and allow-list files. */
#define _POSIX_C_SOURCE 200809L
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

#include "../../node/node_int.h"

static void test_loopback(void **state)
{
    (void)state;
    const char *yes[] = {"127.0.0.1", "127.0.0.2", "127.255.255.255", "127.1.2.3", "localhost"};
    const char *no[] = {"0.0.0.0",     "*",        "10.0.0.1",    "128.0.0.1",    "127.0.0",
                        "127.0.0.1.1", "127.0.0.", "127.0.0.256", "127.evil.com", "localhost.x",
                        "1127.0.0.1",  "",         "127.0.0.1a",  "127..0.1",     "127.0000.0.1"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        assert_true(lx__host_is_loopback(yes[i]));
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        if (lx__host_is_loopback(no[i]))
            fail_msg("%s taken for a loopback address", no[i]);
    assert_false(lx__host_is_loopback(NULL));
}

/* A config as lx__config_parse leaves it, with npeers peers. */
static void base_config(lx__config *c, const char *bind, size_t npeers)
{
    memset(c, 0, sizeof *c);
    snprintf(c->node_id, sizeof c->node_id, "node0");
    snprintf(c->bind, sizeof c->bind, "%s", bind);
    c->npeers = npeers;
    for (size_t i = 0; i < npeers; i++) {
        snprintf(c->peers[i].host, sizeof c->peers[i].host, "localhost");
        c->peers[i].port = 5100 + 100 * (unsigned)i;
    }
}

static void with_keys(lx__config *c, size_t nnumbers)
{
    snprintf(c->curve.key_file, sizeof c->curve.key_file, "node0.key");
    snprintf(c->curve.peer_keys, sizeof c->curve.peer_keys, "nodes.allow");
    snprintf(c->curve.client_keys, sizeof c->curve.client_keys, "clients.allow");
    c->curve.nnumbers = nnumbers;
    for (size_t i = 0; i < nnumbers; i++)
        c->curve.numbers[i] = i + 1;
}

static void expect_refused(const lx__config *c, const char *words)
{
    char err[512];
    assert_int_equal(lx__auth_check_config(c, err, sizeof err), LX_EINVAL);
    if (strstr(err, words) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", err, words);
}

static void test_check_config(void **state)
{
    (void)state;
    lx__config c;
    char err[512];

    /* No keys: loopback is fine, anything else needs --insecure. */
    base_config(&c, "127.0.0.1", 2);
    assert_int_equal(lx__auth_check_config(&c, err, sizeof err), LX_OK);
    base_config(&c, "localhost", 0);
    assert_int_equal(lx__auth_check_config(&c, err, sizeof err), LX_OK);
    base_config(&c, "0.0.0.0", 2);
    expect_refused(&c, "--insecure");
    base_config(&c, "*", 2);
    expect_refused(&c, "not a loopback address");
    base_config(&c, "10.1.2.3", 2);
    expect_refused(&c, "--curve-key");
    c.curve.insecure = 1;
    assert_int_equal(lx__auth_check_config(&c, err, sizeof err), LX_OK);
    base_config(&c, "127.0.0.1", 0);
    c.curve.insecure = 1; /* allowed, and logged, on loopback too */
    assert_int_equal(lx__auth_check_config(&c, err, sizeof err), LX_OK);

    /* A list without the node's key is a mistake. */
    base_config(&c, "127.0.0.1", 0);
    snprintf(c.curve.client_keys, sizeof c.curve.client_keys, "clients.allow");
    expect_refused(&c, "need --curve-key");
    base_config(&c, "127.0.0.1", 0);
    c.curve.nnumbers = 1;
    expect_refused(&c, "need --curve-key");

    /* With keys: any bind, both lists, one number per peer, no repeats. */
    base_config(&c, "0.0.0.0", 2);
    with_keys(&c, 2);
    assert_int_equal(lx__auth_check_config(&c, err, sizeof err), LX_OK);
    c.curve.insecure = 1;
    expect_refused(&c, "exclude each other");
    c.curve.insecure = 0;
    c.curve.peer_keys[0] = '\0';
    expect_refused(&c, "needs --peer-keys");
    with_keys(&c, 2);
    c.curve.client_keys[0] = '\0';
    expect_refused(&c, "needs --client-keys");
    with_keys(&c, 1);
    expect_refused(&c, "1 node number(s) for 2 --peers entries");
    with_keys(&c, 3);
    expect_refused(&c, "3 node number(s) for 2");
    with_keys(&c, 2);
    c.curve.numbers[1] = c.curve.numbers[0];
    expect_refused(&c, "node 1 is listed twice");
    base_config(&c, "127.0.0.1", 0);
    with_keys(&c, 0);
    assert_int_equal(lx__auth_check_config(&c, err, sizeof err), LX_OK);
    assert_int_equal(lx__auth_check_config(NULL, err, sizeof err), LX_EINVAL);
}

/* Encodes then decodes m, so list messages point into buf as on the wire. */
static lx_proto_msg wire(uint8_t *buf, size_t cap, const lx_proto_msg *m)
{
    size_t w;
    assert_int_equal(lx_proto_encode(buf, cap, &w, m), LX_OK);
    lx_proto_msg out;
    assert_int_equal(lx_proto_decode(&out, NULL, buf, w), LX_OK);
    return out;
}

static lx_order_cmd order(uint64_t id, uint64_t account)
{
    lx_order_cmd o;
    memset(&o, 0, sizeof o);
    o.id = id;
    o.account = account;
    o.price = 10;
    o.qty = 1;
    return o;
}

static void test_owns(void **state)
{
    (void)state;
    uint8_t buf[LX_PROTO_FRAME_MAX];
    lx_proto_msg m, d;
    memset(&m, 0, sizeof m);

    m.hdr.type = LX_PROTO_NEW_ORDER;
    m.u.order = order(1, 7);
    d = wire(buf, sizeof buf, &m);
    assert_true(lx__auth_owns(&d, 7));
    assert_false(lx__auth_owns(&d, 8));

    memset(&m, 0, sizeof m);
    m.hdr.type = LX_PROTO_CANCEL;
    m.u.cancel = (lx_cancel_cmd){1, 7};
    d = wire(buf, sizeof buf, &m);
    assert_true(lx__auth_owns(&d, 7));
    assert_false(lx__auth_owns(&d, 0));

    memset(&m, 0, sizeof m);
    m.hdr.type = LX_PROTO_REPLACE;
    m.u.replace = (lx_replace_cmd){1, 7, 10, 1};
    d = wire(buf, sizeof buf, &m);
    assert_true(lx__auth_owns(&d, 7));
    assert_false(lx__auth_owns(&d, UINT64_MAX));

    for (int t = 0; t < 2; t++) {
        memset(&m, 0, sizeof m);
        m.hdr.type = t ? LX_PROTO_WITHDRAW : LX_PROTO_DEPOSIT;
        m.u.transfer.account = 7;
        m.u.transfer.amount = 5;
        snprintf(m.u.transfer.asset, sizeof m.u.transfer.asset, "USD");
        d = wire(buf, sizeof buf, &m);
        assert_true(lx__auth_owns(&d, 7));
        assert_false(lx__auth_owns(&d, 70));
    }

    /* A batch is the connection's only when every order is. */
    lx_order_cmd b[3] = {order(1, 7), order(2, 7), order(3, 7)};
    size_t w;
    assert_int_equal(lx_proto_encode_batch(buf, sizeof buf, &w, 9, b, 3), LX_OK);
    assert_int_equal(lx_proto_decode(&d, NULL, buf, w), LX_OK);
    assert_true(lx__auth_owns(&d, 7));
    b[2].account = 8;
    assert_int_equal(lx_proto_encode_batch(buf, sizeof buf, &w, 9, b, 3), LX_OK);
    assert_int_equal(lx_proto_decode(&d, NULL, buf, w), LX_OK);
    assert_false(lx__auth_owns(&d, 7));
    assert_false(lx__auth_owns(&d, 8));

    /* So is a CANCEL_BATCH. */
    lx_cancel_cmd cb[3] = {{1, 7}, {2, 7}, {3, 7}};
    assert_int_equal(lx_proto_encode_cancel_batch(buf, sizeof buf, &w, 9, cb, 3), LX_OK);
    assert_int_equal(lx_proto_decode(&d, NULL, buf, w), LX_OK);
    assert_true(lx__auth_owns(&d, 7));
    cb[1].account = 8;
    assert_int_equal(lx_proto_encode_cancel_batch(buf, sizeof buf, &w, 9, cb, 3), LX_OK);
    assert_int_equal(lx_proto_decode(&d, NULL, buf, w), LX_OK);
    assert_false(lx__auth_owns(&d, 7));
    assert_false(lx__auth_owns(&d, 8));

    /* Queries and PING act for no account. */
    memset(&m, 0, sizeof m);
    m.hdr.type = LX_PROTO_QUERY_BALANCES;
    m.u.query_balances = 99;
    d = wire(buf, sizeof buf, &m);
    assert_true(lx__auth_owns(&d, 7));
    memset(&m, 0, sizeof m);
    m.hdr.type = LX_PROTO_PING;
    d = wire(buf, sizeof buf, &m);
    assert_true(lx__auth_owns(&d, 7));
}

static void test_not_owner_replies(void **state)
{
    (void)state;
    uint8_t in[LX_PROTO_FRAME_MAX], out[LX_PROTO_FRAME_MAX];
    size_t w;
    lx_proto_msg m, d, r;

    struct {
        uint8_t type;
        uint64_t want_id;
    } cases[] = {{LX_PROTO_NEW_ORDER, 41},
                 {LX_PROTO_CANCEL, 42},
                 {LX_PROTO_REPLACE, 43},
                 {LX_PROTO_DEPOSIT, 0},
                 {LX_PROTO_WITHDRAW, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(&m, 0, sizeof m);
        m.hdr.type = cases[i].type;
        m.hdr.req_id = 1000 + i;
        if (m.hdr.type == LX_PROTO_NEW_ORDER)
            m.u.order = order(41, 5);
        else if (m.hdr.type == LX_PROTO_CANCEL)
            m.u.cancel = (lx_cancel_cmd){42, 5};
        else if (m.hdr.type == LX_PROTO_REPLACE)
            m.u.replace = (lx_replace_cmd){43, 5, 10, 1};
        else {
            m.u.transfer.account = 5;
            m.u.transfer.amount = 1;
            snprintf(m.u.transfer.asset, sizeof m.u.transfer.asset, "BTC");
        }
        d = wire(in, sizeof in, &m);
        assert_int_equal(lx__auth_not_owner(out, sizeof out, &w, &d), LX_OK);
        assert_int_equal(lx_proto_decode(&r, NULL, out, w), LX_OK);
        assert_int_equal(r.hdr.type, LX_PROTO_REJECT);
        assert_int_equal(r.hdr.req_id, 1000 + i);
        assert_int_equal(r.hdr.flags, 0); /* the last frame: no MORE */
        assert_int_equal(r.u.reject.id, cases[i].want_id);
        assert_int_equal(r.u.reject.reason, LX_R_NOT_OWNER);
    }

    /* A batch: one BATCH_RESULT, every entry rejected not_owner. */
    lx_order_cmd b[3] = {order(1, 5), order(2, 6), order(3, 5)};
    assert_int_equal(lx_proto_encode_batch(in, sizeof in, &w, 77, b, 3), LX_OK);
    assert_int_equal(lx_proto_decode(&d, NULL, in, w), LX_OK);
    assert_int_equal(lx__auth_not_owner(out, sizeof out, &w, &d), LX_OK);
    assert_int_equal(lx_proto_decode(&r, NULL, out, w), LX_OK);
    assert_int_equal(r.hdr.type, LX_PROTO_BATCH_RESULT);
    assert_int_equal(r.hdr.req_id, 77);
    assert_int_equal(r.u.batch.count, 3);
    for (size_t i = 0; i < 3; i++) {
        lx_proto_batch_item it;
        assert_int_equal(lx_proto_batch_result_get(&r, &it, i), LX_OK);
        assert_int_equal(it.id, i + 1);
        assert_int_equal(it.seq, 0);
        assert_int_equal(it.reason, LX_R_NOT_OWNER);
    }

    /* A CANCEL_BATCH likewise, with the order ids it named. */
    lx_cancel_cmd cb[2] = {{51, 5}, {52, 6}};
    assert_int_equal(lx_proto_encode_cancel_batch(in, sizeof in, &w, 78, cb, 2), LX_OK);
    assert_int_equal(lx_proto_decode(&d, NULL, in, w), LX_OK);
    assert_int_equal(lx__auth_not_owner(out, sizeof out, &w, &d), LX_OK);
    assert_int_equal(lx_proto_decode(&r, NULL, out, w), LX_OK);
    assert_int_equal(r.hdr.type, LX_PROTO_BATCH_RESULT);
    assert_int_equal(r.hdr.req_id, 78);
    assert_int_equal(r.u.batch.count, 2);
    for (size_t i = 0; i < 2; i++) {
        lx_proto_batch_item it;
        assert_int_equal(lx_proto_batch_result_get(&r, &it, i), LX_OK);
        assert_int_equal(it.id, 51 + i);
        assert_int_equal(it.seq, 0);
        assert_int_equal(it.reason, LX_R_NOT_OWNER);
    }

    /* Not a request with an account; a buffer too small. */
    memset(&m, 0, sizeof m);
    m.hdr.type = LX_PROTO_PING;
    d = wire(in, sizeof in, &m);
    assert_int_equal(lx__auth_not_owner(out, sizeof out, &w, &d), LX_EINVAL);
    memset(&m, 0, sizeof m);
    m.hdr.type = LX_PROTO_NEW_ORDER;
    m.u.order = order(1, 5);
    d = wire(in, sizeof in, &m);
    assert_int_equal(lx__auth_not_owner(out, 10, &w, &d), LX_ETOOBIG);
    assert_int_equal(lx__auth_not_owner(NULL, sizeof out, &w, &d), LX_EINVAL);
}

/* ---- loading the files ---- */

static char dir[64];

static void path_of(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s/%s", dir, name);
}

/* Writes a new key pair's secret to name; returns its public key. */
static lx_curve_key new_key(const char *name)
{
    lx_curve_key pub, sec;
    char p[128];
    path_of(p, sizeof p, name);
    assert_int_equal(lx_curve_keypair(&pub, &sec), LX_OK);
    assert_int_equal(lx_curve_keyfile_write(&sec, p), LX_OK);
    lx_wipe(&sec, sizeof sec);
    return pub;
}

static void write_list(const char *name, const lx_curve_key *keys, const uint64_t *labels, size_t n)
{
    char p[128];
    path_of(p, sizeof p, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    for (size_t i = 0; i < n; i++) {
        char z[LX_CURVE_Z85_LEN + 1];
        assert_int_equal(lx_curve_key_z85(z, sizeof z, &keys[i]), LX_OK);
        fprintf(f, "%s %llu\n", z, (unsigned long long)labels[i]);
    }
    fclose(f);
}

static void test_open(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/lx-test-auth.XXXXXX");
    assert_non_null(mkdtemp(dir));
    lx_curve_key k[3] = {new_key("n0.key"), new_key("n1.key"), new_key("n2.key")};
    lx_curve_key client = new_key("c.key");
    uint64_t nums[3] = {0, 1, 2}, acct = 55;
    write_list("nodes.allow", k, nums, 3);
    write_list("clients.allow", &client, &acct, 1);
    write_list("short.allow", k, nums, 2); /* lacks node 2 */

    lx__node *n = calloc(1, sizeof *n);
    assert_non_null(n);
    base_config(&n->cfg, "127.0.0.1", 2);
    assert_int_equal(lx_zctx_new(&n->ctx, 1), LX_OK);

    /* Without keys: nothing to open. */
    assert_int_equal(lx__auth_open(n), LX_OK);
    assert_null(n->auth);
    assert_int_equal(lx__auth_refused(n->auth), 0);

    lx__curve_cfg *c = &n->cfg.curve;
    path_of(c->key_file, sizeof c->key_file, "n0.key");
    path_of(c->peer_keys, sizeof c->peer_keys, "nodes.allow");
    path_of(c->client_keys, sizeof c->client_keys, "clients.allow");
    c->nnumbers = 2;
    c->numbers[0] = 1;
    c->numbers[1] = 2;
    assert_int_equal(lx__auth_open(n), LX_OK);
    assert_non_null(n->auth);
    lx_zsock_opts o;
    lx_zsock_opts_init(&o);
    lx__auth_server_opts(n->auth, &o, 1);
    assert_int_equal(o.curve, LX_ZCURVE_SERVER);
    assert_non_null(o.curve_secret);
    assert_string_equal(o.zap_domain, "lx-peers");
    lx__auth_server_opts(n->auth, &o, 0);
    assert_string_equal(o.zap_domain, "lx-clients");
    lx_zsock_opts_init(&o);
    lx__auth_peer_opts(n->auth, &o, 1);
    assert_int_equal(o.curve, LX_ZCURVE_CLIENT);
    assert_memory_equal(o.curve_server->b, k[2].b, LX_CURVE_KEY_LEN); /* slot 1 is node 2 */
    assert_memory_equal(o.curve_public->b, k[0].b, LX_CURVE_KEY_LEN);
    lx__auth_seal(n->auth);
    assert_int_equal(lx__auth_refused(n->auth), 0);
    lx__auth_free(&n->auth);
    assert_null(n->auth);

    /* A peer number the list lacks, a key file others can read, a missing
     * list: refused, nothing left open. */
    path_of(c->peer_keys, sizeof c->peer_keys, "short.allow");
    assert_int_equal(lx__auth_open(n), LX_EINVAL);
    assert_null(n->auth);
    path_of(c->peer_keys, sizeof c->peer_keys, "nodes.allow");
    char p[128];
    path_of(p, sizeof p, "n0.key");
    assert_int_equal(chmod(p, 0644), 0);
    assert_int_equal(lx__auth_open(n), LX_EPERM);
    assert_null(n->auth);
    assert_int_equal(chmod(p, 0600), 0);
    path_of(c->client_keys, sizeof c->client_keys, "missing.allow");
    assert_int_equal(lx__auth_open(n), LX_ENOTFOUND);
    assert_null(n->auth);
    /* The handler of a failed open is gone: a new one can start. */
    path_of(c->client_keys, sizeof c->client_keys, "clients.allow");
    assert_int_equal(lx__auth_open(n), LX_OK);
    lx__auth_free(&n->auth);

    lx_zctx_free(&n->ctx);
    free(n);
    const char *files[] = {"n0.key",      "n1.key",        "n2.key",     "c.key",
                           "nodes.allow", "clients.allow", "short.allow"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        path_of(p, sizeof p, files[i]);
        unlink(p);
    }
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loopback), cmocka_unit_test(test_check_config),
        cmocka_unit_test(test_owns),     cmocka_unit_test(test_not_owner_replies),
        cmocka_unit_test(test_open),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
