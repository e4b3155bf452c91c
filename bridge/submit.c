/* The idempotent submitter: issues one signed tx and tracks it until the node
 * decides, re-sending the same bytes after any outcome it cannot be sure of. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lx/bridge.h"

void lx_submit_options_init(lx_submit_options *o)
{
    if (o == NULL)
        return;
    o->deadline_ms = 60000;
    o->poll_interval_ms = 250;
    o->resend_interval_ms = 2000;
}

static void wait_until(uint64_t at_ms)
{
    uint64_t now = lx_rpc_now_ms();
    if (now >= at_ms)
        return;
    uint64_t ms = at_ms - now;
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000u), .tv_nsec = (long)(ms % 1000u) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* An outcome after which the node may or may not have the tx: the request or
 * its reply was lost, or the reply could not be read. Asking again is safe. */
static bool uncertain(const lx_rpc *c, lx_err err)
{
    int http = 0;
    switch (err) {
    case LX_ETIMEDOUT:
    case LX_ETRANSPORT:
    case LX_EFORMAT:
    case LX_ETOOBIG:
        return true;
    case LX_EHTTP:
        lx_rpc_last_error(c, NULL, &http);
        return http >= 500 || http == 429;
    default:
        return false;
    }
}

typedef struct submission {
    lx_rpc *c;
    lx_submit_report *rep;
    const uint8_t *tx;
    size_t tx_len;
    const uint8_t *tx_id;
} submission;

static void count(submission *s, lx_err err)
{
    s->rep->attempts += lx_rpc_last_attempts(s->c);
    if (err != LX_OK && err != LX_EEXIST) {
        s->rep->last_err = err;
        snprintf(s->rep->message, sizeof s->rep->message, "%s",
                 lx_rpc_last_error(s->c, NULL, NULL));
    }
}

/* Asks getTxStatus; on success updates the report's status. */
static lx_err poll_status(submission *s, lx_tx_status *st)
{
    lx_err err = lx_rpc_get_tx_status(s->c, st, s->tx_id);
    s->rep->polls++;
    count(s, err);
    if (err == LX_OK)
        s->rep->status = *st;
    return err;
}

typedef enum send_outcome {
    SENT_ISSUED,    /* the node has the tx */
    SENT_UNCERTAIN, /* it may or may not */
    SENT_REFUSED,   /* the node refused these bytes */
    SENT_FATAL      /* stop with the returned error */
} send_outcome;

static send_outcome send_tx(submission *s, lx_err *fatal)
{
    uint8_t got[LX_ID_LEN];
    lx_err err = lx_rpc_issue_tx(s->c, got, s->tx, s->tx_len);
    s->rep->sends++;
    count(s, err);
    if (err == LX_OK) {
        if (memcmp(got, s->tx_id, LX_ID_LEN) != 0) {
            *fatal = LX_EINVAL; /* the caller's txID does not name these bytes */
            return SENT_FATAL;
        }
        return SENT_ISSUED;
    }
    if (err == LX_EEXIST)
        return SENT_ISSUED;
    if (err == LX_EREJECTED)
        return SENT_REFUSED;
    if (uncertain(s->c, err))
        return SENT_UNCERTAIN;
    *fatal = err;
    return SENT_FATAL;
}

static lx_err run(submission *s, const lx_submit_options *o, uint64_t deadline)
{
    bool issued = false; /* the node said it has the tx */
    uint64_t last_send = 0;
    uint64_t next_poll = 0;
    lx_err err;
    lx_tx_status st;
    for (;;) {
        uint64_t now = lx_rpc_now_ms();
        if (now >= deadline)
            return LX_ETIMEDOUT;
        if (!issued && (s->rep->sends == 0 || now - last_send >= o->resend_interval_ms)) {
            lx_err fatal = LX_OK;
            send_outcome out = send_tx(s, &fatal);
            last_send = lx_rpc_now_ms();
            next_poll = last_send + o->poll_interval_ms;
            switch (out) {
            case SENT_ISSUED:
                issued = true;
                break;
            case SENT_UNCERTAIN:
                break;
            case SENT_FATAL:
                return fatal;
            case SENT_REFUSED:
                /* Bytes an earlier attempt (or another submitter) got in
                 * are refused as spending spent inputs: believe the
                 * refusal only if the status says so. */
                err = poll_status(s, &st);
                if (err == LX_OK && st == LX_TX_ACCEPTED)
                    return LX_OK;
                if (err == LX_OK && st == LX_TX_PROCESSING) {
                    issued = true;
                    break;
                }
                if (err == LX_OK || !uncertain(s->c, err))
                    return LX_EREJECTED;
                break; /* status unreadable: ask again at the next poll */
            }
            continue;
        }
        wait_until(next_poll < deadline ? next_poll : deadline);
        if (lx_rpc_now_ms() >= deadline)
            return LX_ETIMEDOUT;
        err = poll_status(s, &st);
        next_poll = lx_rpc_now_ms() + o->poll_interval_ms;
        if (err == LX_OK) {
            if (st == LX_TX_ACCEPTED)
                return LX_OK;
            if (st == LX_TX_REJECTED)
                return LX_EREJECTED;
            if (st == LX_TX_PROCESSING)
                issued = true;
            else if (issued && lx_rpc_now_ms() - last_send >= o->resend_interval_ms)
                issued = false; /* a node may drop a tx it had: offer it again */
        } else if (!uncertain(s->c, err)) {
            return err;
        }
    }
}

lx_err lx_submit_tx(lx_rpc *c, lx_submit_report *report, const uint8_t *tx, size_t tx_len,
                    const uint8_t tx_id[32], const lx_submit_options *opts)
{
    lx_submit_report scratch;
    lx_submit_report *rep = report ? report : &scratch;
    memset(rep, 0, sizeof *rep);
    rep->status = LX_TX_UNKNOWN;
    if (c == NULL || tx == NULL || tx_len == 0 || tx_id == NULL)
        return rep->last_err = LX_EINVAL;
    uint8_t h[LX_SHA256_LEN];
    lx_err err = lx_sha256(h, tx, tx_len);
    if (err != LX_OK)
        return rep->last_err = err;
    if (memcmp(h, tx_id, LX_ID_LEN) != 0)
        return rep->last_err = LX_EINVAL;
    lx_submit_options o;
    if (opts != NULL)
        o = *opts;
    else
        lx_submit_options_init(&o);

    uint64_t start = lx_rpc_now_ms();
    uint64_t deadline = start + o.deadline_ms;
    uint64_t outer = lx_rpc_deadline(c);
    if (outer != 0 && outer < deadline)
        deadline = outer;
    /* Every call stops at the submission's deadline, retries included. */
    lx_rpc_set_deadline(c, deadline);
    submission s = {.c = c, .rep = rep, .tx = tx, .tx_len = tx_len, .tx_id = tx_id};
    err = run(&s, &o, deadline);
    lx_rpc_set_deadline(c, outer);
    rep->elapsed_ms = lx_rpc_now_ms() - start;
    return err;
}
