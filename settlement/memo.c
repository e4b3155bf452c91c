/* The settlement tx memo: "lxdex/settle/v1 <number> <hash>", written and
 * read back byte for byte so an auditor can match a tx to its batch. */
#include <string.h>

#include "settlement_int.h"

#define TAG_LEN (sizeof LX_SETTLE_MEMO_TAG - 1)

static const char hexdigits[] = "0123456789abcdef";

lx_err lx_settle_memo_encode(uint8_t *out, size_t out_cap, size_t *out_len, uint64_t number,
                             const uint8_t hash[LX_SHA256_LEN])
{
    if (!out || !out_len || !hash || number == 0)
        return LX_EINVAL;
    char digits[20];
    size_t nd = 0;
    for (uint64_t v = number; v; v /= 10)
        digits[nd++] = (char)('0' + v % 10);
    size_t len = TAG_LEN + 1 + nd + 1 + 2 * LX_SHA256_LEN;
    if (out_cap < len)
        return LX_EINVAL;
    uint8_t *p = out;
    memcpy(p, LX_SETTLE_MEMO_TAG, TAG_LEN), p += TAG_LEN;
    *p++ = ' ';
    while (nd)
        *p++ = (uint8_t)digits[--nd];
    *p++ = ' ';
    for (size_t i = 0; i < LX_SHA256_LEN; i++) {
        *p++ = (uint8_t)hexdigits[hash[i] >> 4];
        *p++ = (uint8_t)hexdigits[hash[i] & 15];
    }
    *out_len = len;
    return LX_OK;
}

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1; /* upper case is not canonical */
}

lx_err lx_settle_memo_parse(uint64_t *number, uint8_t hash[LX_SHA256_LEN], const uint8_t *memo,
                            size_t len)
{
    if (!number || !hash || (!memo && len))
        return LX_EINVAL;
    size_t hexlen = 2 * LX_SHA256_LEN;
    /* tag, space, 1..20 digits, space, 64 hex digits */
    if (len < TAG_LEN + 3 + hexlen || len > LX_SETTLE_MEMO_MAX)
        return LX_EFORMAT;
    if (memcmp(memo, LX_SETTLE_MEMO_TAG, TAG_LEN) != 0 || memo[TAG_LEN] != ' ' ||
        memo[len - hexlen - 1] != ' ')
        return LX_EFORMAT;
    const uint8_t *d = memo + TAG_LEN + 1;
    size_t nd = len - hexlen - 1 - (TAG_LEN + 1);
    if (nd == 0 || nd > 20 || d[0] == '0')
        return LX_EFORMAT;
    uint64_t v = 0;
    for (size_t i = 0; i < nd; i++) {
        if (d[i] < '0' || d[i] > '9')
            return LX_EFORMAT;
        unsigned digit = (unsigned)(d[i] - '0');
        if (v > (UINT64_MAX - digit) / 10)
            return LX_EFORMAT;
        v = v * 10 + digit;
    }
    uint8_t h[LX_SHA256_LEN];
    const uint8_t *x = memo + len - hexlen;
    for (size_t i = 0; i < LX_SHA256_LEN; i++) {
        int hi = hexval(x[2 * i]), lo = hexval(x[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return LX_EFORMAT;
        h[i] = (uint8_t)(hi << 4 | lo);
    }
    *number = v;
    memcpy(hash, h, LX_SHA256_LEN);
    return LX_OK;
}
