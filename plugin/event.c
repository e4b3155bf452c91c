/* Event lists, the canonical event encoding and the names of reasons. */
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

static const char *const reason_names[LX_R_COUNT] = {
    [LX_R_NONE] = "none",
    [LX_R_INSUFFICIENT_BALANCE] = "insufficient_balance",
    [LX_R_UNKNOWN_MARKET] = "unknown_market",
    [LX_R_BAD_PRICE] = "bad_price",
    [LX_R_BAD_QTY] = "bad_qty",
    [LX_R_POST_ONLY_WOULD_CROSS] = "post_only_would_cross",
    [LX_R_FOK_UNFILLABLE] = "fok_unfillable",
    [LX_R_DUPLICATE_ID] = "duplicate_id",
    [LX_R_UNKNOWN_ORDER] = "unknown_order",
    [LX_R_NOT_OWNER] = "not_owner",
    [LX_R_BAD_ID] = "bad_id",
    [LX_R_BAD_TYPE] = "bad_type",
    [LX_R_OVERFLOW] = "overflow",
    [LX_R_BAD_AMOUNT] = "bad_amount",
    [LX_R_UNKNOWN_ASSET] = "unknown_asset",
    [LX_R_DUPLICATE_MARKET] = "duplicate_market",
    [LX_R_BAD_MARKET] = "bad_market",
    [LX_R_USER] = "user",
    [LX_R_IOC] = "ioc",
    [LX_R_MARKET] = "market",
    [LX_R_STP] = "stp",
    [LX_R_REPLACE] = "replace",
};

const char *lx_reason_str(lx_reason r)
{
    if ((unsigned)r >= LX_R_COUNT)
        return "unknown";
    return reason_names[r];
}

void lx_events_init(lx_events *evs)
{
    if (!evs)
        return;
    evs->v = NULL;
    evs->n = 0;
    evs->cap = 0;
}

void lx_events_clear(lx_events *evs)
{
    if (evs)
        evs->n = 0;
}

void lx_events_free(lx_events *evs)
{
    if (!evs)
        return;
    free(evs->v);
    lx_events_init(evs);
}

lx_err lx__events_grow(lx_events *evs, size_t extra)
{
    if (evs->cap - evs->n >= extra)
        return LX_OK;
    if (extra > SIZE_MAX / sizeof(lx_event) - evs->n)
        return LX_ENOMEM;
    size_t want = evs->n + extra;
    size_t cap = evs->cap ? evs->cap : 16;
    while (cap < want)
        cap = cap > SIZE_MAX / sizeof(lx_event) / 2 ? want : cap * 2;
    lx_event *v = realloc(evs->v, cap * sizeof *v);
    if (!v)
        return LX_ENOMEM;
    evs->v = v;
    evs->cap = cap;
    return LX_OK;
}

static uint8_t *put64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--)
        *p++ = (uint8_t)(v >> (8 * i));
    return p;
}

static uint8_t *put32(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--)
        *p++ = (uint8_t)(v >> (8 * i));
    return p;
}

/* Layout: type, cmd, side, reason (1 byte each), market (4), id (8),
 * account (8), then the type's payload fields in declaration order (8 each):
 * ACCEPTED/REPLACED price qty; FILL maker maker_account price qty maker_fee
 * taker_fee; CANCELLED remaining; BALANCE amount available reserved;
 * REJECTED and MARKET none. */
size_t lx_event_encode(uint8_t *buf, size_t len, const lx_event *ev)
{
    if (!buf || !ev)
        return 0;
    uint64_t pay[6];
    size_t np = 0;
    switch (ev->type) {
    case LX_EV_ACCEPTED:
    case LX_EV_REPLACED:
        pay[np++] = ev->u.order.price;
        pay[np++] = ev->u.order.qty;
        break;
    case LX_EV_FILL:
        pay[np++] = ev->u.fill.maker;
        pay[np++] = ev->u.fill.maker_account;
        pay[np++] = ev->u.fill.price;
        pay[np++] = ev->u.fill.qty;
        pay[np++] = ev->u.fill.maker_fee;
        pay[np++] = ev->u.fill.taker_fee;
        break;
    case LX_EV_CANCELLED:
        pay[np++] = ev->u.cancel.remaining;
        break;
    case LX_EV_BALANCE:
        pay[np++] = ev->u.balance.amount;
        pay[np++] = ev->u.balance.available;
        pay[np++] = ev->u.balance.reserved;
        break;
    case LX_EV_REJECTED:
    case LX_EV_MARKET:
        break;
    default:
        return 0;
    }
    size_t need = 24 + 8 * np;
    if (len < need)
        return 0;
    uint8_t *p = buf;
    *p++ = ev->type;
    *p++ = ev->cmd;
    *p++ = ev->side;
    *p++ = ev->reason;
    p = put32(p, ev->market);
    p = put64(p, ev->id);
    p = put64(p, ev->account);
    for (size_t i = 0; i < np; i++)
        p = put64(p, pay[i]);
    return (size_t)(p - buf);
}
