/* Text encodings of the X-Chain: hex, hex with checksum, base58, cb58,
 * bech32 (BIP-173) and "X-<hrp>1…" addresses. */
#include <string.h>

#include "lx/bridge.h"

#define BASE58_MAX_BYTES 1024
#define BASE58_MAX_CHARS 1400
#define BECH32_MAX 90

/* strlen that stops looking after max characters (returns max + 1 then). */
static size_t bounded_len(const char *s, size_t max)
{
    size_t n = 0;
    while (n <= max && s[n] != '\0')
        n++;
    return n;
}

static const char hex_digits[] = "0123456789abcdef";

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t lx_hex_len(size_t len)
{
    return 2 * len + 1;
}

lx_err lx_hex_encode(char *out, size_t out_cap, const uint8_t *data, size_t len)
{
    if (out == NULL || (data == NULL && len > 0) || len > (SIZE_MAX - 1) / 2 ||
        out_cap < lx_hex_len(len))
        return LX_EINVAL;
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = hex_digits[data[i] >> 4];
        out[2 * i + 1] = hex_digits[data[i] & 15];
    }
    out[2 * len] = '\0';
    return LX_OK;
}

lx_err lx_hex_decode(uint8_t *out, size_t out_cap, size_t *out_len, const char *str)
{
    if (out_len == NULL || str == NULL || (out == NULL && out_cap > 0))
        return LX_EINVAL;
    *out_len = 0;
    if (str[0] == '0' && (str[1] == 'x' || str[1] == 'X'))
        str += 2;
    size_t n = strlen(str);
    if (n % 2 != 0)
        return LX_EFORMAT;
    for (size_t i = 0; i < n; i++)
        if (hex_value(str[i]) < 0)
            return LX_EFORMAT;
    if (n / 2 > out_cap)
        return LX_EINVAL;
    for (size_t i = 0; i < n / 2; i++)
        out[i] = (uint8_t)(hex_value(str[2 * i]) << 4 | hex_value(str[2 * i + 1]));
    *out_len = n / 2;
    return LX_OK;
}

static lx_err checksum(uint8_t cs[LX_CHECKSUM_LEN], const uint8_t *data, size_t len)
{
    uint8_t h[LX_SHA256_LEN];
    lx_err err = lx_sha256(h, data, len);
    if (err == LX_OK)
        memcpy(cs, h + LX_SHA256_LEN - LX_CHECKSUM_LEN, LX_CHECKSUM_LEN);
    return err;
}

size_t lx_hexcs_len(size_t len)
{
    return 2 + lx_hex_len(len + LX_CHECKSUM_LEN);
}

lx_err lx_hexcs_encode(char *out, size_t out_cap, const uint8_t *data, size_t len)
{
    if (out == NULL || (data == NULL && len > 0) || len > SIZE_MAX / 4 ||
        out_cap < lx_hexcs_len(len))
        return LX_EINVAL;
    uint8_t cs[LX_CHECKSUM_LEN];
    lx_err err = checksum(cs, data, len);
    if (err != LX_OK)
        return err;
    out[0] = '0';
    out[1] = 'x';
    lx_hex_encode(out + 2, out_cap - 2, data, len);
    lx_hex_encode(out + 2 + 2 * len, out_cap - 2 - 2 * len, cs, sizeof cs);
    return LX_OK;
}

lx_err lx_hexcs_decode(uint8_t *out, size_t out_cap, size_t *out_len, const char *str)
{
    if (out_len == NULL || str == NULL || (out == NULL && out_cap > 0))
        return LX_EINVAL;
    *out_len = 0;
    if (str[0] != '0' || str[1] != 'x')
        return LX_EFORMAT;
    size_t n = strlen(str + 2);
    if (n % 2 != 0 || n / 2 < LX_CHECKSUM_LEN)
        return LX_EFORMAT;
    for (size_t i = 0; i < n; i++)
        if (hex_value(str[2 + i]) < 0)
            return LX_EFORMAT;
    size_t len = n / 2 - LX_CHECKSUM_LEN;
    if (len > out_cap)
        return LX_EINVAL;
    const char *p = str + 2;
    for (size_t i = 0; i < len; i++)
        out[i] = (uint8_t)(hex_value(p[2 * i]) << 4 | hex_value(p[2 * i + 1]));
    uint8_t want[LX_CHECKSUM_LEN], got[LX_CHECKSUM_LEN];
    for (size_t i = 0; i < LX_CHECKSUM_LEN; i++)
        got[i] = (uint8_t)(hex_value(p[2 * (len + i)]) << 4 | hex_value(p[2 * (len + i) + 1]));
    lx_err err = checksum(want, out, len);
    if (err != LX_OK)
        return err;
    if (memcmp(want, got, LX_CHECKSUM_LEN) != 0)
        return LX_ECORRUPT;
    *out_len = len;
    return LX_OK;
}

static const char b58_alphabet[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

static int b58_value(char c)
{
    const char *p = c != '\0' ? strchr(b58_alphabet, c) : NULL;
    return p != NULL ? (int)(p - b58_alphabet) : -1;
}

size_t lx_base58_len(size_t len)
{
    /* log(256) / log(58) < 1.3658, plus one digit of slack and the NUL. */
    return len * 137 / 100 + 2;
}

lx_err lx_base58_encode(char *out, size_t out_cap, const uint8_t *data, size_t len)
{
    if (out == NULL || (data == NULL && len > 0))
        return LX_EINVAL;
    if (len > BASE58_MAX_BYTES)
        return LX_ETOOBIG;
    size_t zeros = 0;
    while (zeros < len && data[zeros] == 0)
        zeros++;
    /* Base-58 digits of the number, least significant first. */
    uint8_t digits[BASE58_MAX_BYTES * 137 / 100 + 1];
    size_t nd = 0;
    for (size_t i = zeros; i < len; i++) {
        unsigned carry = data[i];
        for (size_t j = 0; j < nd; j++) {
            carry += (unsigned)digits[j] << 8;
            digits[j] = (uint8_t)(carry % 58);
            carry /= 58;
        }
        while (carry > 0) {
            LX_ASSERT(nd < sizeof digits);
            digits[nd++] = (uint8_t)(carry % 58);
            carry /= 58;
        }
    }
    if (zeros + nd + 1 > out_cap)
        return LX_EINVAL;
    size_t o = 0;
    for (size_t i = 0; i < zeros; i++)
        out[o++] = '1';
    for (size_t j = nd; j > 0; j--)
        out[o++] = b58_alphabet[digits[j - 1]];
    out[o] = '\0';
    return LX_OK;
}

lx_err lx_base58_decode(uint8_t *out, size_t out_cap, size_t *out_len, const char *str)
{
    if (out_len == NULL || str == NULL || (out == NULL && out_cap > 0))
        return LX_EINVAL;
    *out_len = 0;
    size_t n = bounded_len(str, BASE58_MAX_CHARS + 1);
    if (n > BASE58_MAX_CHARS)
        return LX_ETOOBIG;
    size_t zeros = 0;
    while (zeros < n && str[zeros] == '1')
        zeros++;
    /* Bytes of the number, least significant first. */
    uint8_t bytes[BASE58_MAX_CHARS * 3 / 4 + 1];
    size_t nb = 0;
    for (size_t i = zeros; i < n; i++) {
        int v = b58_value(str[i]);
        if (v < 0)
            return LX_EFORMAT;
        unsigned carry = (unsigned)v;
        for (size_t j = 0; j < nb; j++) {
            carry += (unsigned)bytes[j] * 58;
            bytes[j] = (uint8_t)(carry & 0xff);
            carry >>= 8;
        }
        while (carry > 0) {
            LX_ASSERT(nb < sizeof bytes);
            bytes[nb++] = (uint8_t)(carry & 0xff);
            carry >>= 8;
        }
    }
    if (zeros + nb > out_cap)
        return LX_EINVAL;
    memset(out, 0, zeros);
    for (size_t j = 0; j < nb; j++)
        out[zeros + j] = bytes[nb - 1 - j];
    *out_len = zeros + nb;
    return LX_OK;
}

size_t lx_cb58_len(size_t len)
{
    return lx_base58_len(len + LX_CHECKSUM_LEN);
}

lx_err lx_cb58_encode(char *out, size_t out_cap, const uint8_t *data, size_t len)
{
    if (out == NULL || (data == NULL && len > 0))
        return LX_EINVAL;
    if (len > BASE58_MAX_BYTES - LX_CHECKSUM_LEN)
        return LX_ETOOBIG;
    uint8_t buf[BASE58_MAX_BYTES];
    if (len > 0)
        memcpy(buf, data, len);
    lx_err err = checksum(buf + len, data, len);
    if (err != LX_OK)
        return err;
    return lx_base58_encode(out, out_cap, buf, len + LX_CHECKSUM_LEN);
}

lx_err lx_cb58_decode(uint8_t *out, size_t out_cap, size_t *out_len, const char *str)
{
    if (out_len == NULL || str == NULL || (out == NULL && out_cap > 0))
        return LX_EINVAL;
    *out_len = 0;
    uint8_t buf[BASE58_MAX_CHARS];
    size_t n = 0;
    lx_err err = lx_base58_decode(buf, sizeof buf, &n, str);
    if (err != LX_OK)
        return err;
    if (n < LX_CHECKSUM_LEN)
        return LX_EFORMAT;
    n -= LX_CHECKSUM_LEN;
    uint8_t cs[LX_CHECKSUM_LEN];
    err = checksum(cs, buf, n);
    if (err != LX_OK)
        return err;
    if (memcmp(cs, buf + n, LX_CHECKSUM_LEN) != 0)
        return LX_ECORRUPT;
    if (n > out_cap)
        return LX_EINVAL;
    memcpy(out, buf, n);
    *out_len = n;
    return LX_OK;
}

lx_err lx_id_to_cb58(char out[LX_CB58_ID_MAX], const uint8_t id[LX_ID_LEN])
{
    if (out == NULL || id == NULL)
        return LX_EINVAL;
    return lx_cb58_encode(out, LX_CB58_ID_MAX, id, LX_ID_LEN);
}

lx_err lx_id_from_cb58(uint8_t id[LX_ID_LEN], const char *str)
{
    if (id == NULL || str == NULL)
        return LX_EINVAL;
    uint8_t buf[BASE58_MAX_BYTES];
    size_t n = 0;
    lx_err err = lx_cb58_decode(buf, sizeof buf, &n, str);
    if (err != LX_OK)
        return err;
    if (n != LX_ID_LEN)
        return LX_EFORMAT;
    memcpy(id, buf, LX_ID_LEN);
    return LX_OK;
}

/* ---- bech32 (BIP-173) ---- */

static const char b32_charset[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

static uint32_t b32_polymod_step(uint32_t chk, uint8_t v)
{
    static const uint32_t gen[5] = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3};
    uint32_t top = chk >> 25;
    chk = (chk & 0x1ffffff) << 5 ^ v;
    for (int i = 0; i < 5; i++)
        if ((top >> i) & 1)
            chk ^= gen[i];
    return chk;
}

/* The checksum state after the expanded HRP: high bits, 0, low bits. */
static uint32_t b32_hrp_state(const char *hrp, size_t hlen)
{
    uint32_t chk = 1;
    for (size_t i = 0; i < hlen; i++)
        chk = b32_polymod_step(chk, (uint8_t)((unsigned char)hrp[i] >> 5));
    chk = b32_polymod_step(chk, 0);
    for (size_t i = 0; i < hlen; i++)
        chk = b32_polymod_step(chk, (uint8_t)(hrp[i] & 31));
    return chk;
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

lx_err lx_bech32_encode5(char *out, size_t out_cap, const char *hrp, const uint8_t *data5,
                         size_t len)
{
    if (out == NULL || hrp == NULL || (data5 == NULL && len > 0))
        return LX_EINVAL;
    size_t hlen = bounded_len(hrp, BECH32_MAX + 1);
    if (hlen < 1 || hlen + 1 + len + 6 > BECH32_MAX)
        return LX_EINVAL;
    if (out_cap < hlen + 1 + len + 6 + 1)
        return LX_EINVAL;
    char h[BECH32_MAX];
    for (size_t i = 0; i < hlen; i++) {
        if (hrp[i] < 33 || hrp[i] > 126)
            return LX_EINVAL;
        h[i] = lower(hrp[i]);
    }
    uint32_t chk = b32_hrp_state(h, hlen);
    size_t o = 0;
    memcpy(out, h, hlen);
    o = hlen;
    out[o++] = '1';
    for (size_t i = 0; i < len; i++) {
        if (data5[i] > 31)
            return LX_EINVAL;
        chk = b32_polymod_step(chk, data5[i]);
        out[o++] = b32_charset[data5[i]];
    }
    for (int i = 0; i < 6; i++)
        chk = b32_polymod_step(chk, 0);
    chk ^= 1;
    for (int i = 0; i < 6; i++)
        out[o++] = b32_charset[(chk >> (5 * (5 - i))) & 31];
    out[o] = '\0';
    return LX_OK;
}

lx_err lx_bech32_decode5(char *hrp_out, size_t hrp_cap, uint8_t *data5, size_t data5_cap,
                         size_t *data5_len, const char *str)
{
    if (hrp_out == NULL || data5_len == NULL || str == NULL || (data5 == NULL && data5_cap > 0))
        return LX_EINVAL;
    *data5_len = 0;
    size_t n = bounded_len(str, BECH32_MAX + 1);
    if (n > BECH32_MAX)
        return LX_ETOOBIG;
    bool has_lower = false, has_upper = false;
    size_t sep = n;
    for (size_t i = 0; i < n; i++) {
        char c = str[i];
        if (c < 33 || c > 126)
            return LX_EFORMAT;
        has_lower |= c >= 'a' && c <= 'z';
        has_upper |= c >= 'A' && c <= 'Z';
        if (c == '1')
            sep = i;
    }
    if (has_lower && has_upper)
        return LX_EFORMAT;
    if (sep == n || sep < 1 || n - sep - 1 < 6)
        return LX_EFORMAT;
    size_t dlen = n - sep - 1 - 6;
    if (sep + 1 > hrp_cap || dlen > data5_cap)
        return LX_EINVAL;
    char h[BECH32_MAX];
    for (size_t i = 0; i < sep; i++)
        h[i] = lower(str[i]);
    uint32_t chk = b32_hrp_state(h, sep);
    uint8_t vals[BECH32_MAX];
    for (size_t i = sep + 1; i < n; i++) {
        const char *p = strchr(b32_charset, lower(str[i]));
        if (p == NULL)
            return LX_EFORMAT;
        vals[i - sep - 1] = (uint8_t)(p - b32_charset);
        chk = b32_polymod_step(chk, vals[i - sep - 1]);
    }
    if (chk != 1)
        return LX_ECORRUPT;
    memcpy(hrp_out, h, sep);
    hrp_out[sep] = '\0';
    if (dlen > 0)
        memcpy(data5, vals, dlen);
    *data5_len = dlen;
    return LX_OK;
}

/* Regroups bits: from-bit groups to to-bit groups. With pad, a partial last
 * group is zero-filled; without, leftover bits must be fewer than from and
 * all zero. Returns the number of groups written, or -1. */
static long regroup(uint8_t *out, size_t out_cap, const uint8_t *in, size_t len, unsigned from,
                    unsigned to, bool pad)
{
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t o = 0;
    const uint32_t maxv = (1u << to) - 1;
    for (size_t i = 0; i < len; i++) {
        if (in[i] >> from)
            return -1;
        acc = (acc << from | in[i]) & 0xffffff;
        bits += from;
        while (bits >= to) {
            bits -= to;
            if (o >= out_cap)
                return -1;
            out[o++] = (uint8_t)((acc >> bits) & maxv);
        }
    }
    if (pad) {
        if (bits > 0) {
            if (o >= out_cap)
                return -1;
            out[o++] = (uint8_t)((acc << (to - bits)) & maxv);
        }
    } else if (bits >= from || ((acc << (to - bits)) & maxv) != 0) {
        return -1;
    }
    return (long)o;
}

lx_err lx_bech32_encode(char *out, size_t out_cap, const char *hrp, const uint8_t *data, size_t len)
{
    if (out == NULL || hrp == NULL || (data == NULL && len > 0) || len > BECH32_MAX)
        return LX_EINVAL;
    uint8_t d5[BECH32_MAX * 8 / 5 + 1];
    long n = regroup(d5, sizeof d5, data, len, 8, 5, true);
    if (n < 0)
        return LX_EINVAL;
    return lx_bech32_encode5(out, out_cap, hrp, d5, (size_t)n);
}

lx_err lx_bech32_decode(char *hrp_out, size_t hrp_cap, uint8_t *out, size_t out_cap,
                        size_t *out_len, const char *str)
{
    if (out_len == NULL || (out == NULL && out_cap > 0))
        return LX_EINVAL;
    *out_len = 0;
    uint8_t d5[BECH32_MAX];
    size_t n5 = 0;
    lx_err err = lx_bech32_decode5(hrp_out, hrp_cap, d5, sizeof d5, &n5, str);
    if (err != LX_OK)
        return err;
    if (n5 * 5 / 8 > out_cap)
        return LX_EINVAL;
    long n = regroup(out, out_cap, d5, n5, 5, 8, false);
    if (n < 0)
        return LX_EFORMAT;
    *out_len = (size_t)n;
    return LX_OK;
}

lx_err lx_address_encode(char *out, size_t out_cap, const char *chain, const char *hrp,
                         const uint8_t addr[LX_ADDR_LEN])
{
    if (out == NULL || hrp == NULL || addr == NULL)
        return LX_EINVAL;
    size_t pre = 0;
    if (chain != NULL) {
        pre = strlen(chain);
        if (pre == 0 || pre + 1 >= out_cap)
            return LX_EINVAL;
        memcpy(out, chain, pre);
        out[pre++] = '-';
    }
    return lx_bech32_encode(out + pre, out_cap - pre, hrp, addr, LX_ADDR_LEN);
}

lx_err lx_address_decode(uint8_t addr[LX_ADDR_LEN], const char *chain, const char *hrp,
                         const char *str)
{
    if (addr == NULL || str == NULL)
        return LX_EINVAL;
    if (chain != NULL) {
        size_t pre = strlen(chain);
        if (strncmp(str, chain, pre) != 0 || str[pre] != '-')
            return LX_EFORMAT;
        str += pre + 1;
    }
    char h[BECH32_MAX + 1];
    uint8_t buf[LX_ADDR_LEN + 8];
    size_t n = 0;
    lx_err err = lx_bech32_decode(h, sizeof h, buf, sizeof buf, &n, str);
    if (err == LX_EINVAL)
        return LX_EFORMAT; /* a payload too long for any address */
    if (err != LX_OK)
        return err;
    if (n != LX_ADDR_LEN)
        return LX_EFORMAT;
    if (hrp != NULL) {
        size_t hl = strlen(hrp);
        if (strlen(h) != hl)
            return LX_EFORMAT;
        for (size_t i = 0; i < hl; i++)
            if (lower(hrp[i]) != h[i])
                return LX_EFORMAT;
    }
    memcpy(addr, buf, LX_ADDR_LEN);
    return LX_OK;
}

lx_err lx_address_from_pubkey(uint8_t addr[LX_ADDR_LEN], const uint8_t pub[LX_PUBKEY_LEN])
{
    if (addr == NULL || pub == NULL)
        return LX_EINVAL;
    return lx_hash160(addr, pub, LX_PUBKEY_LEN);
}
