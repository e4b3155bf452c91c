/* lxdex node: the daemon's library and the shared pieces of its tools. */
#ifndef LX_NODE_H
#define LX_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "lx/bridge.h"
#include "lx/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------
 * JSON Lines commands and events (the lx-replay format, docs/replay.md).
 *
 * A parser context maps account names to engine account ids: the fee account
 * is named "fees" and has id 0; every other name gets the next id, from 1, in
 * order of first appearance. Market names are resolved through the engine, so
 * a market line must be applied before orders name it; an order naming an
 * unknown market parses to market id UINT32_MAX and the engine rejects it with
 * unknown_market.
 * ------------------------------------------------------------------------- */

typedef struct lx_cmdjson lx_cmdjson;

/* Creates a parser context; free it with lx_cmdjson_free. */
lx_err lx_cmdjson_new(lx_cmdjson **out);
void lx_cmdjson_free(lx_cmdjson **p);

typedef struct lx_parsed {
    int is_market;         /* 1: apply market with lx_engine_add_market */
    lx_market_spec market; /* when is_market */
    lx_cmd cmd;            /* otherwise */
} lx_parsed;

/* Parses one line (len bytes, no trailing newline needed). On LX_EFORMAT
 * writes a one-line reason ("missing field \"qty\"") to err (errlen bytes,
 * always NUL-terminated). e is read to resolve market names. */
lx_err lx_cmdjson_parse(lx_cmdjson *cj, lx_parsed *out, char *err, size_t errlen,
                        const lx_engine *e, const char *line, size_t len);

/* The name of account id, or NULL if the context never saw it. */
const char *lx_cmdjson_account_name(const lx_cmdjson *cj, uint64_t account);

/* Writes one event as a JSON line (with '\n') into buf: returns the length,
 * or 0 if buf is too small. */
size_t lx_cmdjson_format_event(const lx_cmdjson *cj, const lx_engine *e, char *buf, size_t len,
                               const lx_event *ev);

#ifdef __cplusplus
}
#endif
#endif /* LX_NODE_H */
