/* lxdex settlement: hashes and secp256k1 signatures (the adapters of OpenSSL
 * libcrypto and libsecp256k1), and fills to signed settlement batches. */
#ifndef LX_SETTLEMENT_H
#define LX_SETTLEMENT_H

#include <stddef.h>
#include <stdint.h>

#include "lx/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- hashes and keys (settlement/hash.c, settlement/secp.c) ---- */

/* ---- settlement batches (the settlement issue) ---- */

#ifdef __cplusplus
}
#endif
#endif /* LX_SETTLEMENT_H */
