/* A libFuzzer entry for the AVM codec and the text decoders. Whatever the
 * input, nothing reads out of bounds, and whatever decodes re-encodes to the
 * same bytes (the codec accepts only canonical forms). Build standalone with
 * clang -fsanitize=fuzzer,address, or run through test_fuzz_codec. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lx/bridge.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_tx(const uint8_t *data, size_t size, bool with_creds)
{
    lx_tx *tx = NULL, *again = NULL;
    const char *why = NULL;
    lx_err err = with_creds ? lx_tx_decode(&tx, &why, data, size)
                            : lx_tx_decode_unsigned(&tx, &why, data, size);
    LX_ASSERT(why != NULL);
    if (err != LX_OK) {
        LX_ASSERT(tx == NULL);
        LX_ASSERT(err == LX_EFORMAT || err == LX_ECANONICAL || err == LX_ETOOBIG ||
                  err == LX_EUNSUPPORTED);
        return;
    }
    size_t len = with_creds ? lx_tx_signed_len(tx) : lx_tx_unsigned_len(tx), n = 0;
    LX_ASSERT(len == size);
    uint8_t *buf = malloc(len + 1);
    LX_ASSERT(buf != NULL);
    err = with_creds ? lx_tx_encode(tx, buf, len, &n) : lx_tx_encode_unsigned(tx, buf, len, &n);
    LX_ASSERT(err == LX_OK && n == size && memcmp(buf, data, size) == 0);
    /* Building from the decoded view gives the same unsigned bytes. */
    err = lx_tx_build(&again, lx_tx_view(tx));
    LX_ASSERT(err == LX_OK);
    LX_ASSERT(lx_tx_unsigned_len(again) == lx_tx_unsigned_len(tx));
    err = lx_tx_encode_unsigned(again, buf, len, &n);
    LX_ASSERT(err == LX_OK && memcmp(buf, data, n) == 0);
    free(buf);
    lx_tx_free(&again);
    lx_tx_free(&tx);
}

static void check_utxo(const uint8_t *data, size_t size)
{
    lx_utxo *u = NULL;
    if (lx_utxo_decode(&u, NULL, data, size) != LX_OK) {
        LX_ASSERT(u == NULL);
        return;
    }
    uint8_t *buf = malloc(size + 1);
    size_t n = 0;
    LX_ASSERT(buf != NULL && lx_utxo_encode(u, buf, size, &n) == LX_OK);
    LX_ASSERT(n == size && memcmp(buf, data, size) == 0);
    free(buf);
    lx_utxo_free(&u);
}

static void check_text(const uint8_t *data, size_t size)
{
    if (size > 2048)
        size = 2048;
    char *s = malloc(size + 1);
    LX_ASSERT(s != NULL);
    memcpy(s, data, size);
    s[size] = '\0';
    uint8_t out[2048];
    char hrp[128];
    size_t n = 0;
    (void)lx_hexcs_decode(out, sizeof out, &n, s);
    (void)lx_cb58_decode(out, sizeof out, &n, s);
    (void)lx_bech32_decode(hrp, sizeof hrp, out, sizeof out, &n, s);
    uint8_t addr[LX_ADDR_LEN];
    (void)lx_address_decode(addr, "X", NULL, s);
    lx_key *key = NULL;
    if (lx_privkey_decode(&key, s) == LX_OK)
        lx_key_free(&key);
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_tx(data, size, true);
    check_tx(data, size, false);
    check_utxo(data, size);
    check_text(data, size);
    return 0;
}
