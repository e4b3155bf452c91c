/* Private to the audit files of bridge/: what audit_rpc.c needs to know of
 * an audit built by audit.c. */
#ifndef LX_AUDIT_INT_H
#define LX_AUDIT_INT_H

#include "lx/bridge.h"

/* The audit's configuration; its channel points at the audit's own copy. */
const lx_audit_config *lx__audit_config(const lx_audit *a);

#endif /* LX_AUDIT_INT_H */
