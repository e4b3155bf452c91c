/* lxdex bridge: the X-Chain AVM codec, addresses and encodings, the JSON-RPC
 * client and the idempotent submitter. */
#ifndef LX_BRIDGE_H
#define LX_BRIDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lx/settlement.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- encodings: hex with checksum, cb58, bech32 (bridge/encoding.c) ---- */

/* ---- AVM codec: transactions and UTXOs (bridge/codec.c) ---- */

/* ---- JSON-RPC client (bridge/rpc.c) and submitter (bridge/submit.c) ---- */

#ifdef __cplusplus
}
#endif
#endif /* LX_BRIDGE_H */
