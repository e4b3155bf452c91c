/* Tests for the idempotent submitter against a loopback fake node that keeps
 * a mempool and a decision per tx, and loses replies on request. */
#include "mock_http.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lx/bridge.h"

enum { ST_UNKNOWN, ST_PROCESSING, ST_ACCEPTED, ST_REJECTED };

typedef struct fake_node {
    /* what the node knows */
    int state;
    uint8_t tx_id[32];
    size_t processed; /* times a tx entered the mempool */
    size_t accepted;  /* txs accepted */
    size_t polls;     /* status polls while Processing */
    size_t issue_calls, status_calls;
    /* how it behaves */
    size_t drop_issue_replies;   /* process, then drop this many issueTx replies */
    size_t silent_issue_replies; /* process, then never answer this many */
    size_t polls_to_decide;      /* Processing polls before the decision */
    int decision;                /* ST_ACCEPTED, ST_REJECTED, or 0: never */
    bool accept_on_issue;        /* decide Accepted at once */
    bool refuse;                 /* every issueTx fails verification */
    bool dup_as_error;           /* a re-issue gets "duplicate tx" */
    bool wrong_txid;             /* answers issueTx with another ID */
    bool newer;                  /* reports Processing as Unknown */
    size_t forget_after_polls;   /* drop the tx from the mempool after this many */
    size_t status_503;           /* the first this many status replies are 503 */
    bool status_always_503;
} fake_node;

static void reply_txid(mock_reply *out, const mock_request *req, const uint8_t id[32])
{
    char s[LX_CB58_ID_MAX];
    assert_int_equal(lx_id_to_cb58(s, id), LX_OK);
    char *r = mock_fmt("{\"txID\":\"%s\"}", s);
    mock_result(out, req, r);
    free(r);
}

static void on_issue(fake_node *f, const mock_request *req, mock_reply *out)
{
    f->issue_calls++;
    const char *hex = json_string_value(json_object_get(req->params, "tx"));
    uint8_t buf[4096];
    size_t n = 0;
    if (hex == NULL || lx_hexcs_decode(buf, sizeof buf, &n, hex) != LX_OK) {
        mock_error(out, req, -32000, "couldn't decode tx");
        return;
    }
    uint8_t id[32];
    assert_int_equal(lx_sha256(id, buf, n), LX_OK);
    if (f->refuse) {
        mock_error(out, req, -32000, "failed to verify tx: insufficient funds");
        return;
    }
    if (f->state == ST_UNKNOWN) {
        f->state = ST_PROCESSING;
        memcpy(f->tx_id, id, 32);
        f->processed++;
        f->polls = 0;
        if (f->accept_on_issue) {
            f->state = ST_ACCEPTED;
            f->accepted++;
        }
        if (f->wrong_txid)
            id[0] ^= 1;
        reply_txid(out, req, id);
    } else if (f->state == ST_ACCEPTED) {
        /* its inputs are spent now */
        mock_error(out, req, -32000, "failed to verify tx: missing UTXO");
    } else if (f->dup_as_error) {
        mock_error(out, req, -32000, "duplicate tx");
    } else {
        reply_txid(out, req, id);
    }
    /* whatever the answer, it may be lost */
    if (f->drop_issue_replies > 0) {
        f->drop_issue_replies--;
        out->action = MOCK_DROP;
    } else if (f->silent_issue_replies > 0) {
        f->silent_issue_replies--;
        out->action = MOCK_SILENT;
    }
}

static void on_status(fake_node *f, const mock_request *req, mock_reply *out)
{
    f->status_calls++;
    if (f->status_always_503 || f->status_503 > 0) {
        if (f->status_503 > 0)
            f->status_503--;
        out->status = 503;
        out->body = mock_fmt("unavailable");
        return;
    }
    uint8_t id[32];
    const char *s = json_string_value(json_object_get(req->params, "txID"));
    bool ours = s != NULL && lx_id_from_cb58(id, s) == LX_OK && f->state != ST_UNKNOWN &&
                memcmp(id, f->tx_id, 32) == 0;
    int st = ours ? f->state : ST_UNKNOWN;
    if (st == ST_PROCESSING) {
        f->polls++;
        if (f->forget_after_polls && f->polls >= f->forget_after_polls) {
            f->forget_after_polls = 0;
            f->state = ST_UNKNOWN; /* evicted from the mempool */
            st = ST_UNKNOWN;
        } else if (f->decision && f->polls >= f->polls_to_decide) {
            f->state = f->decision;
            if (f->decision == ST_ACCEPTED)
                f->accepted++;
            st = f->state;
        }
    }
    static const char *const names[] = {"Unknown", "Processing", "Accepted", "Rejected"};
    const char *name = (f->newer && st == ST_PROCESSING) ? "Unknown" : names[st];
    char *r = mock_fmt("{\"status\":\"%s\"}", name);
    mock_result(out, req, r);
    free(r);
}

static void node_handler(void *arg, const mock_request *req, mock_reply *out)
{
    fake_node *f = arg;
    if (strcmp(req->method, "xvm.issueTx") == 0)
        on_issue(f, req, out);
    else if (strcmp(req->method, "xvm.getTxStatus") == 0)
        on_status(f, req, out);
    else if (strcmp(req->method, "xvm.getHeight") == 0)
        mock_result(out, req, "{\"height\":\"1\"}");
    else
        mock_error(out, req, -32000, "can't find method");
}

/* A signed tx stands in as opaque bytes: the submitter never parses it. */
static uint8_t TX[300];
static uint8_t TX_ID[32];

static int setup(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof TX; i++)
        TX[i] = (uint8_t)(i * 7 + 3);
    return lx_sha256(TX_ID, TX, sizeof TX) == LX_OK ? 0 : -1;
}

typedef struct rig {
    fake_node node;
    mock_server m;
    lx_rpc *c;
    lx_submit_options so;
} rig;

static rig *rig_start(void)
{
    rig *r = calloc(1, sizeof *r);
    assert_non_null(r);
    r->node.polls_to_decide = 2;
    r->node.decision = ST_ACCEPTED;
    assert_int_equal(mock_start(&r->m, node_handler, &r->node), 0);
    lx_rpc_options o;
    lx_rpc_options_init(&o);
    o.timeout_ms = 300;
    o.retry_deadline_ms = 1000;
    o.max_retries = 3;
    o.backoff_initial_ms = 5;
    o.backoff_max_ms = 20;
    o.jitter_seed = 7;
    assert_int_equal(lx_rpc_new(&r->c, r->m.url, &o), LX_OK);
    lx_submit_options_init(&r->so);
    r->so.deadline_ms = 3000;
    r->so.poll_interval_ms = 20;
    r->so.resend_interval_ms = 200;
    return r;
}

static void rig_stop(rig *r)
{
    lx_rpc_free(&r->c);
    mock_stop(&r->m);
    free(r);
}

static void test_accepted(void **state)
{
    (void)state;
    rig *r = rig_start();
    lx_submit_report rep;
    assert_int_equal(lx_submit_tx(r->c, &rep, TX, sizeof TX, TX_ID, &r->so), LX_OK);
    assert_int_equal(rep.status, LX_TX_ACCEPTED);
    assert_int_equal(rep.sends, 1);
    assert_int_equal(rep.polls, 2);
    assert_int_equal(rep.attempts, 1 + 1 + 2); /* probe, issue, two polls */
    assert_int_equal(rep.last_err, LX_OK);
    assert_int_equal(r->node.processed, 1);
    assert_int_equal(r->node.accepted, 1);
    assert_memory_equal(r->node.tx_id, TX_ID, 32);
    assert_int_equal(lx_rpc_deadline(r->c), 0); /* the client's deadline is restored */
    rig_stop(r);
}

/* The node takes the tx but its reply is lost; the client re-sends the same
 * bytes, which the node must see as the same tx. */
static void test_reply_dropped_after_processing(void **state)
{
    (void)state;
    for (int variant = 0; variant < 3; variant++) {
        rig *r = rig_start();
        r->node.drop_issue_replies = 1;
        r->node.dup_as_error = variant == 1;    /* "duplicate tx" on the re-send */
        r->node.accept_on_issue = variant == 2; /* already Accepted: re-send refused */
        lx_submit_report rep;
        assert_int_equal(lx_submit_tx(r->c, &rep, TX, sizeof TX, TX_ID, &r->so), LX_OK);
        assert_int_equal(rep.status, LX_TX_ACCEPTED);
        assert_int_equal(r->node.processed, 1);
        assert_int_equal(r->node.accepted, 1);
        assert_memory_equal(r->node.tx_id, TX_ID, 32);
        assert_int_equal(r->node.issue_calls, 2);
        assert_true(rep.attempts >= 3);
        rig_stop(r);
    }
}

/* Every issueTx reply is lost to a timeout, so the client never hears that
 * the node has the tx; the status says so. */
static void test_issue_timeouts_then_status(void **state)
{
    (void)state;
    rig *r = rig_start();
    r->node.silent_issue_replies = 1000;
    r->node.polls_to_decide = 1;
    lx_submit_report rep;
    assert_int_equal(lx_submit_tx(r->c, &rep, TX, sizeof TX, TX_ID, &r->so), LX_OK);
    assert_int_equal(rep.status, LX_TX_ACCEPTED);
    assert_int_equal(rep.sends, 1);
    assert_int_equal(rep.last_err, LX_ETIMEDOUT);
    assert_int_equal(r->node.processed, 1);
    assert_int_equal(r->node.accepted, 1);
    rig_stop(r);
}

static void test_rejected(void **state)
{
    (void)state;
    rig *r = rig_start();
    r->node.decision = ST_REJECTED;
    lx_submit_report rep;
    assert_int_equal(lx_submit_tx(r->c, &rep, TX, sizeof TX, TX_ID, &r->so), LX_EREJECTED);
    assert_int_equal(rep.status, LX_TX_REJECTED);
    assert_int_equal(r->node.accepted, 0);
    rig_stop(r);
}

static void test_refused(void **state)
{
    (void)state;
    rig *r = rig_start();
    r->node.refuse = true;
    lx_submit_report rep;
    assert_int_equal(lx_submit_tx(r->c, &rep, TX, sizeof TX, TX_ID, &r->so), LX_EREJECTED);
    assert_int_equal(rep.status, LX_TX_UNKNOWN);
    assert_int_equal(rep.sends, 1);
    assert_int_equal(rep.polls, 1); /* the refusal was checked against the status */
    assert_int_equal(rep.last_err, LX_EREJECTED);
    assert_string_equal(rep.message, "failed to verify tx: insufficient funds");
    assert_int_equal(r->node.accepted, 0);
    rig_stop(r);
}

/* Without the node saying Accepted the submitter never says so, however long
 * it waits and whatever goes wrong. */
static void test_never_accepted_without_node(void **state)
{
    (void)state;
    for (int variant = 0; variant < 3; variant++) {
        rig *r = rig_start();
        r->node.decision = 0;                     /* Processing forever */
        r->node.status_always_503 = variant == 1; /* status unreadable */
        r->node.newer = variant == 2;             /* only Unknown, ever */
        r->so.deadline_ms = 700;
        lx_submit_report rep;
        uint64_t t0 = lx_rpc_now_ms();
        assert_int_equal(lx_submit_tx(r->c, &rep, TX, sizeof TX, TX_ID, &r->so), LX_ETIMEDOUT);
        uint64_t took = lx_rpc_now_ms() - t0;
        assert_true(took >= 650 && took < 1500);
        assert_true(rep.elapsed_ms >= 650);
        assert_int_not_equal(rep.status, LX_TX_ACCEPTED);
        assert_int_equal(rep.status, variant == 0 ? LX_TX_PROCESSING : LX_TX_UNKNOWN);
        assert_int_equal(r->node.accepted, 0);
        assert_int_equal(r->node.processed, 1); /* re-sends were the same tx */
        if (variant == 2)
            assert_true(rep.sends >= 2); /* Unknown for long: offered again */
        else
            assert_int_equal(rep.sends, 1);
        rig_stop(r);
    }
}

/* A node that evicts the tx gets the same bytes again. */
static void test_evicted_then_resent(void **state)
{
    (void)state;
    rig *r = rig_start();
    r->node.forget_after_polls = 1;
    r->node.polls_to_decide = 2;
    lx_submit_report rep;
    assert_int_equal(lx_submit_tx(r->c, &rep, TX, sizeof TX, TX_ID, &r->so), LX_OK);
    assert_int_equal(rep.status, LX_TX_ACCEPTED);
    assert_int_equal(rep.sends, 2);
    assert_int_equal(r->node.processed, 2);
    assert_int_equal(r->node.accepted, 1);
    rig_stop(r);
}

static void test_transient_status_errors(void **state)
{
    (void)state;
    rig *r = rig_start();
    r->node.status_503 = 6; /* more than one call's retries */
    lx_submit_report rep;
    assert_int_equal(lx_submit_tx(r->c, &rep, TX, sizeof TX, TX_ID, &r->so), LX_OK);
    assert_int_equal(rep.status, LX_TX_ACCEPTED);
    assert_true(rep.polls >= 3);
    assert_int_equal(r->node.accepted, 1);
    rig_stop(r);
}

static void test_bad_txid(void **state)
{
    (void)state;
    rig *r = rig_start();
    uint8_t other[32];
    memcpy(other, TX_ID, 32);
    other[31] ^= 0x80;
    lx_submit_report rep;
    assert_int_equal(lx_submit_tx(r->c, &rep, TX, sizeof TX, other, &r->so), LX_EINVAL);
    assert_int_equal(mock_requests(&r->m), 0);
    assert_int_equal(lx_submit_tx(r->c, &rep, NULL, 0, TX_ID, &r->so), LX_EINVAL);
    assert_int_equal(lx_submit_tx(NULL, &rep, TX, sizeof TX, TX_ID, NULL), LX_EINVAL);

    /* A node naming another txID for these bytes is not believed. */
    r->node.wrong_txid = true;
    assert_int_equal(lx_submit_tx(r->c, &rep, TX, sizeof TX, TX_ID, &r->so), LX_EINVAL);
    assert_int_not_equal(rep.status, LX_TX_ACCEPTED);
    rig_stop(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepted),
        cmocka_unit_test(test_reply_dropped_after_processing),
        cmocka_unit_test(test_issue_timeouts_then_status),
        cmocka_unit_test(test_rejected),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_never_accepted_without_node),
        cmocka_unit_test(test_evicted_then_resent),
        cmocka_unit_test(test_transient_status_errors),
        cmocka_unit_test(test_bad_txid),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
