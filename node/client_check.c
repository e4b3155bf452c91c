/* test-client --malformed: frames of every malformed kind to each node,
 * each of which must be answered with the right ERROR, then a PING that
 * must still be answered. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "client_int.h"

/* Sends one frame and waits for a reply carrying req_id echo (0 accepts any
 * reply with req_id 0); returns 1 with it in *reply, or 0 on timeout. */
static int exchange(lx_client *c, lx_proto_msg *reply, size_t node_i, const uint8_t *b, size_t len,
                    uint64_t echo)
{
    uint64_t deadline = lx_now_ns() + c->o.connect_timeout_ns;
    if (!lx__client_send_frame(c, node_i, b, len))
        return 0;
    for (uint64_t now = lx_now_ns(); now < deadline && !lx__client_stopped(c); now = lx_now_ns()) {
        lx_zpollitem it = {.sock = c->nodes[node_i].s, .events = LX_ZPOLLIN};
        int nready = 0;
        (void)lx_zpoll(&nready, &it, 1, (long)((deadline - now) / 1000000u) + 1);
        lx_zmsg msg;
        while (lx_zsock_recv(c->nodes[node_i].s, &msg, LX_ZDONTWAIT) == LX_OK) {
            lx_proto_msg m;
            int ok = msg.n == 1 &&
                     lx_proto_decode(&m, NULL, msg.part[0].data, msg.part[0].len) == LX_OK &&
                     m.hdr.req_id == echo;
            lx_zmsg_close(&msg);
            if (ok) {
                *reply = m;
                return 1;
            }
        }
    }
    return 0;
}

/* Sends frames malformed frames of assorted kinds to node i, adding those
 * answered as expected to *pass and those checked to *checks. Returns 0 if a
 * frame could not be built. */
static int malformed_node(lx_client *c, uint64_t *pass, uint64_t *checks, uint64_t *req, size_t i,
                          unsigned long frames)
{
    const char *ep = c->o.nodes[i];
    unsigned silent = 0;
    for (unsigned long j = 0; j < frames; j++) {
        if (silent == 3) {
            /* The node is gone: do not wait out every remaining frame. */
            fprintf(stderr, "%s: %s: 3 frames in a row got no reply; %lu not sent\n", c->o.name, ep,
                    frames - j);
            *checks += frames - j;
            break;
        }
        lx_malformed_kind kind = (lx_malformed_kind)(j % LX_MAL_COUNT);
        size_t len = 0;
        lx_proto_error want = LX_PROTO_E_NONE;
        uint64_t echo = 0;
        if (lx_malformed_frame(c->buf, sizeof c->buf, &len, &want, &echo, kind, ++*req) != LX_OK)
            return 0;
        (*checks)++;
        const char *why = NULL;
        char detail[160];
        lx_proto_msg r;
        int answered = exchange(c, &r, i, c->buf, len, echo);
        silent = answered ? 0 : silent + 1;
        if (!answered)
            why = "no reply";
        else if (r.hdr.type != LX_PROTO_ERROR) {
            snprintf(detail, sizeof detail, "got %s, want ERROR", lx_proto_type_str(r.hdr.type));
            why = detail;
        } else if (r.u.error.code != want) {
            snprintf(detail, sizeof detail, "got ERROR %s, want %s",
                     lx_proto_error_str((lx_proto_error)r.u.error.code), lx_proto_error_str(want));
            why = detail;
        }
        if (why == NULL)
            (*pass)++;
        else
            fprintf(stderr, "%s: %s: malformed %s (req_id %" PRIu64 "): %s\n", c->o.name, ep,
                    lx_malformed_name(kind), echo, why);
    }
    return 1;
}

int lx_client_malformed(lx_client *c, unsigned long frames, bool json)
{
    uint64_t checks = 0, passed = 0, ping_ok = 0;
    uint64_t req = UINT64_C(0x4d00000000000000);
    for (size_t i = 0; i < c->nn; i++) {
        uint64_t node_pass = 0;
        if (!malformed_node(c, &node_pass, &checks, &req, i, frames))
            return 1;
        passed += node_pass;
        /* The node must still serve requests after all that. */
        lx_proto_msg m, r;
        memset(&m, 0, sizeof m);
        m.hdr.type = LX_PROTO_PING;
        m.hdr.req_id = ++req;
        size_t len = 0;
        int ok = lx_proto_encode(c->buf, sizeof c->buf, &len, &m) == LX_OK &&
                 exchange(c, &r, i, c->buf, len, req) && r.hdr.type == LX_PROTO_PONG;
        ping_ok += (uint64_t)ok;
        if (!ok)
            fprintf(stderr, "%s: %s: no PONG after the malformed frames\n", c->o.name,
                    c->o.nodes[i]);
        if (!json)
            printf("%s: %" PRIu64 "/%lu malformed frames answered as expected, PING %s\n",
                   c->o.nodes[i], node_pass, frames, ok ? "ok" : "FAILED");
    }
    int fail = passed != checks || ping_ok != c->nn;
    if (json)
        printf("{\"malformed\":{\"nodes\":%zu,\"frames\":%" PRIu64 ",\"passed\":%" PRIu64
               ",\"failed\":%" PRIu64 ",\"ping_ok\":%" PRIu64 ",\"ok\":%s}}\n",
               c->nn, checks, passed, checks - passed, ping_ok, fail ? "false" : "true");
    else
        printf("malformed: %" PRIu64 " of %" PRIu64 " checks passed, %" PRIu64
               " of %zu nodes answer PING: %s\n",
               passed, checks, ping_ok, c->nn, fail ? "FAILED" : "ok");
    return fail ? 1 : 0;
}
