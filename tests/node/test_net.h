/* Shared by the node tests that bind real sockets. */
#ifndef LX_TEST_NET_H
#define LX_TEST_NET_H

#include <stdio.h>

#include "lx/node.h"

/* Binds s to the first free loopback port of [first, first + 300); writes
 * the endpoint to ep. Fails the test when none is free. */
static inline void lx_test_bind_free_port(lx_zsock *s, char *ep, size_t len, int first)
{
    for (int port = first; port < first + 300; port++) {
        snprintf(ep, len, "tcp://127.0.0.1:%d", port);
        lx_err err = lx_zsock_bind(s, ep);
        if (err == LX_OK)
            return;
        assert_int_equal(err, LX_EEXIST);
    }
    fail_msg("no free port");
}

#endif /* LX_TEST_NET_H */
