/* Private to the JSON-RPC client: what the transport (bridge/rpc.c) and the
 * method wrappers (bridge/rpc_methods.c) share. No libcurl type appears here. */
#ifndef LX_BRIDGE_RPC_INT_H
#define LX_BRIDGE_RPC_INT_H

#include <jansson.h>

#include <stdint.h>

#include "lx/bridge.h"

#define LX__RPC_MSG_MAX 512

/* The part of a client that the method wrappers see. rpc.c embeds it as the
 * first member of its own handle, next to the libcurl state. */
struct lx_rpc {
    lx_rpc_options opt;   /* opt.chain is NULL: the caller's string is not kept */
    lx_rpc_prefix prefix; /* AUTO until probed */

    /* the last call's outcome */
    char msg[LX__RPC_MSG_MAX];
    int64_t rpc_code;
    int http_status;
    uint32_t attempts;
};

/* Starts a public call: clears the last outcome. */
void lx__rpc_begin(lx_rpc *c);

/* Formats the last call's message and returns e. */
__attribute__((format(printf, 3, 4))) lx_err lx__rpc_fail(lx_rpc *c, lx_err e, const char *fmt,
                                                          ...);

/* Sends one JSON-RPC request to ep, with retries, and returns its "result"
 * in *result (a new reference the caller releases; NULL on an error). The
 * result must be an object. params is stolen; NULL means out of memory. A
 * JSON-RPC error gives LX_ERPC with the code and message kept. */
lx_err lx__rpc_call(lx_rpc *c, json_t **result, lx_rpc_endpoint ep, const char *method,
                    json_t *params);

#endif /* LX_BRIDGE_RPC_INT_H */
