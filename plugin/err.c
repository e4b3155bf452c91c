/* The error enum's descriptions and the invariant-failure handler, shared by
 * every lxdex part. */
#include <stdio.h>
#include <stdlib.h>

#include "lx/plugin.h"

static const char *const err_text[LX_ERR_COUNT] = {
    [LX_OK] = "success",
    [LX_EINVAL] = "invalid argument",
    [LX_ENOMEM] = "out of memory",
    [LX_ETOOBIG] = "input too big",
    [LX_ENOTFOUND] = "not found",
    [LX_EEXIST] = "already exists",
    [LX_EFORMAT] = "malformed input",
    [LX_ECANONICAL] = "not in canonical form",
    [LX_ECRYPTO] = "bad key or signature",
    [LX_EIO] = "input/output error",
    [LX_ETIMEDOUT] = "timed out",
    [LX_ETRANSPORT] = "connection failed",
    [LX_EHTTP] = "HTTP error status",
    [LX_ERPC] = "JSON-RPC error",
    [LX_EREJECTED] = "transaction rejected",
    [LX_EPERM] = "permission denied",
    [LX_EAGAIN] = "try again",
    [LX_ESTATE] = "not possible in this state",
    [LX_ECORRUPT] = "data corrupt",
    [LX_EOVERFLOW] = "arithmetic overflow",
    [LX_EUNSUPPORTED] = "not supported",
    [LX_ECLOSED] = "closed",
};

const char *lx_strerror(lx_err err)
{
    if ((unsigned)err >= LX_ERR_COUNT || err_text[err] == NULL)
        return "unknown error";
    return err_text[err];
}

void lx__assert_fail(const char *file, int line, const char *expr)
{
    fprintf(stderr, "lxdex: assertion failed at %s:%d: %s\n", file, line, expr);
    abort();
}
