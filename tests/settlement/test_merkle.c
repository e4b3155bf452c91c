/* Merkle roots against a recursive reference (the split-at-a-power-of-two
 * definition), proofs for every leaf, and the ways a proof must fail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lx/settlement.h"

/* Reference: MTH(D[0:n]) = H(1 || MTH(D[0:k]) || MTH(D[k:n])), k the largest
 * power of two below n; MTH of one leaf is the leaf hash; of none H(""). */
static void ref_root(uint8_t out[32], const uint8_t *leaves, size_t n)
{
    if (n == 0) {
        assert_int_equal(lx_sha256(out, NULL, 0), LX_OK);
        return;
    }
    if (n == 1) {
        memcpy(out, leaves, 32);
        return;
    }
    size_t k = 1;
    while (k * 2 < n)
        k *= 2;
    uint8_t buf[65];
    buf[0] = 1;
    ref_root(buf + 1, leaves, k);
    ref_root(buf + 33, leaves + 32 * k, n - k);
    assert_int_equal(lx_sha256(out, buf, sizeof buf), LX_OK);
}

/* Leaf hashes sha256(0x00 || "leaf" || i), computed without the library's
 * Merkle code. */
static uint8_t *make_leaves(size_t n, uint8_t salt)
{
    uint8_t *v = malloc(n ? 32 * n : 1);
    assert_non_null(v);
    for (size_t i = 0; i < n; i++) {
        uint8_t buf[1 + 4 + 8 + 1] = {0, 'l', 'e', 'a', 'f'};
        for (int b = 0; b < 8; b++)
            buf[5 + b] = (uint8_t)(i >> (56 - 8 * b));
        buf[13] = salt;
        assert_int_equal(lx_sha256(v + 32 * i, buf, sizeof buf), LX_OK);
    }
    return v;
}

static void test_leaf_and_node_hash(void **state)
{
    (void)state;
    uint8_t data[5] = {1, 2, 3, 4, 5}, buf[6] = {0, 1, 2, 3, 4, 5}, want[32], got[32];
    assert_int_equal(lx_sha256(want, buf, sizeof buf), LX_OK);
    assert_int_equal(lx_merkle_leaf_hash(got, data, sizeof data), LX_OK);
    assert_memory_equal(got, want, 32);

    uint8_t l[32], r[32], node_in[65];
    memset(l, 0xaa, 32);
    memset(r, 0xbb, 32);
    node_in[0] = 1;
    memcpy(node_in + 1, l, 32);
    memcpy(node_in + 33, r, 32);
    assert_int_equal(lx_sha256(want, node_in, sizeof node_in), LX_OK);
    assert_int_equal(lx_merkle_node_hash(got, l, r), LX_OK);
    assert_memory_equal(got, want, 32);
    /* A 64-byte leaf that spells left || right is not the node. */
    uint8_t as_leaf[32];
    assert_int_equal(lx_merkle_leaf_hash(as_leaf, node_in + 1, 64), LX_OK);
    assert_memory_not_equal(as_leaf, got, 32);

    assert_int_equal(lx_merkle_leaf_hash(NULL, data, 1), LX_EINVAL);
    assert_int_equal(lx_merkle_leaf_hash(got, NULL, 1), LX_EINVAL);
    assert_int_equal(lx_merkle_node_hash(got, NULL, r), LX_EINVAL);
}

static void check_roots(size_t n)
{
    uint8_t *leaves = make_leaves(n, 7);
    uint8_t want[32], got[32], troot[32];
    ref_root(want, leaves, n);
    assert_int_equal(lx_merkle_root(got, leaves, n), LX_OK);
    assert_memory_equal(got, want, 32);
    lx_merkle_tree *t = NULL;
    assert_int_equal(lx_merkle_tree_new(&t, leaves, n), LX_OK);
    assert_int_equal(lx_merkle_tree_count(t), n);
    assert_int_equal(lx_merkle_tree_root(t, troot), LX_OK);
    assert_memory_equal(troot, want, 32);
    lx_merkle_tree_free(&t);
    assert_null(t);
    free(leaves);
}

static void test_roots(void **state)
{
    (void)state;
    static const size_t sizes[] = {0, 1, 2, 3, 5, 1000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        check_roots(sizes[i]);
    for (size_t n = 4; n <= 70; n++)
        check_roots(n);

    /* The fixed small cases, spelled out. */
    uint8_t *lv = make_leaves(3, 1), want[32], ab[32], got[32];
    assert_int_equal(lx_merkle_root(got, lv, 1), LX_OK);
    assert_memory_equal(got, lv, 32);
    assert_int_equal(lx_merkle_node_hash(ab, lv, lv + 32), LX_OK);
    assert_int_equal(lx_merkle_root(got, lv, 2), LX_OK);
    assert_memory_equal(got, ab, 32);
    assert_int_equal(lx_merkle_node_hash(want, ab, lv + 64), LX_OK); /* c moves up */
    assert_int_equal(lx_merkle_root(got, lv, 3), LX_OK);
    assert_memory_equal(got, want, 32);
    free(lv);

    static const uint8_t empty[32] = {0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14,
                                      0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
                                      0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c,
                                      0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55};
    assert_int_equal(lx_merkle_root(got, NULL, 0), LX_OK);
    assert_memory_equal(got, empty, 32);
    assert_int_equal(lx_merkle_root(NULL, NULL, 0), LX_EINVAL);
    assert_int_equal(lx_merkle_root(got, NULL, 2), LX_EINVAL);
}

static void test_no_duplicate_ambiguity(void **state)
{
    (void)state;
    /* [a, b, c] and [a, b, c, c] must differ (a duplicated odd leaf would
     * give both the same root), and so must [a..e] and [a..e, e]. */
    uint8_t *lv = make_leaves(6, 3), r3[32], r4[32], r5[32], r6[32];
    memcpy(lv + 96, lv + 64, 32);
    assert_int_equal(lx_merkle_root(r3, lv, 3), LX_OK);
    assert_int_equal(lx_merkle_root(r4, lv, 4), LX_OK);
    assert_memory_not_equal(r3, r4, 32);
    memcpy(lv + 160, lv + 128, 32);
    assert_int_equal(lx_merkle_root(r5, lv, 5), LX_OK);
    assert_int_equal(lx_merkle_root(r6, lv, 6), LX_OK);
    assert_memory_not_equal(r5, r6, 32);
    free(lv);
}

static void check_proofs(size_t n)
{
    uint8_t *leaves = make_leaves(n, 9);
    lx_merkle_tree *t = NULL;
    assert_int_equal(lx_merkle_tree_new(&t, leaves, n), LX_OK);
    uint8_t root[32], other_root[32];
    assert_int_equal(lx_merkle_tree_root(t, root), LX_OK);
    /* The root of the same tree with leaf 0 changed. */
    uint8_t *changed = make_leaves(n, 9);
    changed[0] ^= 1;
    assert_int_equal(lx_merkle_root(other_root, changed, n), LX_OK);
    free(changed);

    lx_merkle_proof p, q;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *leaf = leaves + 32 * i;
        assert_int_equal(lx_merkle_tree_proof(t, &p, i), LX_OK);
        assert_int_equal(p.index, i);
        assert_int_equal(p.count, n);
        assert_int_equal(lx_merkle_proof_verify(root, leaf, &p), LX_OK);

        /* Round trip through the encoding. */
        uint8_t enc[LX_MERKLE_PROOF_ENC_MAX];
        size_t len = 0;
        assert_int_equal(lx_merkle_proof_encode(&p, enc, sizeof enc, &len), LX_OK);
        assert_int_equal(len, 17 + 32 * (size_t)p.depth);
        assert_int_equal(lx_merkle_proof_decode(&q, enc, len), LX_OK);
        assert_int_equal(q.bits, p.bits);
        assert_int_equal(q.depth, p.depth);
        assert_int_equal(lx_merkle_proof_verify(root, leaf, &q), LX_OK);
        assert_int_equal(lx_merkle_proof_decode(&q, enc, len - 1), LX_EFORMAT);
        enc[len] = 0;
        assert_int_equal(lx_merkle_proof_decode(&q, enc, len + 1), LX_EFORMAT);

        /* Proof against another root (only trees where leaf i is not on a
         * path untouched by the change can still match, and none does). */
        if (n > 1 || i != 0)
            assert_int_not_equal(lx_merkle_proof_verify(other_root, leaf, &p), LX_OK);

        /* A wrong leaf. */
        uint8_t bad[32];
        memcpy(bad, leaf, 32);
        bad[31] ^= 0x80;
        assert_int_equal(lx_merkle_proof_verify(root, bad, &p), LX_ECRYPTO);
        if (n > 1) {
            /* Another leaf of the same tree with this proof. */
            const uint8_t *neighbour = leaves + 32 * ((i + 1) % n);
            assert_int_not_equal(lx_merkle_proof_verify(root, neighbour, &p), LX_OK);
        }

        /* A flipped bit in each sibling. */
        for (uint32_t k = 0; k < p.depth; k++) {
            q = p;
            q.sibling[k][k % 32] ^= 1;
            assert_int_equal(lx_merkle_proof_verify(root, leaf, &q), LX_ECRYPTO);
        }
        /* A flipped side bit. */
        for (uint32_t k = 0; k < p.depth; k++) {
            q = p;
            q.bits ^= (uint64_t)1 << k;
            assert_int_not_equal(lx_merkle_proof_verify(root, leaf, &q), LX_OK);
        }
        /* A wrong index: every other position. */
        for (size_t j = 0; j < n && j < 40; j++) {
            if (j == i)
                continue;
            q = p;
            q.index = j;
            assert_int_not_equal(lx_merkle_proof_verify(root, leaf, &q), LX_OK);
        }
        /* Index out of range, a dropped sibling. (A count whose path has the
         * same shape gives the same hashes: the count is bound by the batch,
         * which lx_batch_verify_fill checks; see test_batch.) */
        q = p;
        q.count = i;
        assert_int_equal(lx_merkle_proof_verify(root, leaf, &q), LX_EFORMAT);
        q = p;
        q.index = n;
        assert_int_equal(lx_merkle_proof_verify(root, leaf, &q), LX_EFORMAT);
        if (p.depth) {
            q = p;
            q.depth--;
            assert_int_equal(lx_merkle_proof_verify(root, leaf, &q), LX_EFORMAT);
        }
    }
    assert_int_equal(lx_merkle_tree_proof(t, &p, n), LX_EINVAL);
    lx_merkle_tree_free(&t);
    free(leaves);
}

static void test_proofs(void **state)
{
    (void)state;
    static const size_t sizes[] = {1, 2, 3, 5, 6, 7, 8, 9, 33, 1000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        check_proofs(sizes[i]);
}

static void test_proof_shape(void **state)
{
    (void)state;
    /* In [a, b, c, d, e], e moves up twice and meets one sibling at the top;
     * c meets d (right), then ab (left), then e (right). */
    uint8_t *lv = make_leaves(5, 2);
    lx_merkle_tree *t = NULL;
    lx_merkle_proof p;
    assert_int_equal(lx_merkle_tree_new(&t, lv, 5), LX_OK);
    assert_int_equal(lx_merkle_tree_proof(t, &p, 4), LX_OK);
    assert_int_equal(p.depth, 1);
    assert_int_equal(p.bits, 1);
    uint8_t abcd[32], ab[32], cd[32];
    assert_int_equal(lx_merkle_node_hash(ab, lv, lv + 32), LX_OK);
    assert_int_equal(lx_merkle_node_hash(cd, lv + 64, lv + 96), LX_OK);
    assert_int_equal(lx_merkle_node_hash(abcd, ab, cd), LX_OK);
    assert_memory_equal(p.sibling[0], abcd, 32);
    assert_int_equal(lx_merkle_tree_proof(t, &p, 2), LX_OK);
    assert_int_equal(p.depth, 3);
    assert_int_equal(p.bits, 2);
    assert_memory_equal(p.sibling[0], lv + 96, 32);
    assert_memory_equal(p.sibling[1], ab, 32);
    assert_memory_equal(p.sibling[2], lv + 128, 32);
    lx_merkle_tree_free(&t);
    free(lv);

    /* A one-leaf tree: an empty path. */
    uint8_t one[32] = {5}, enc[LX_MERKLE_PROOF_ENC_MAX];
    size_t len;
    assert_int_equal(lx_merkle_tree_new(&t, one, 1), LX_OK);
    assert_int_equal(lx_merkle_tree_proof(t, &p, 0), LX_OK);
    assert_int_equal(p.depth, 0);
    assert_int_equal(lx_merkle_proof_verify(one, one, &p), LX_OK);
    assert_int_equal(lx_merkle_proof_encode(&p, enc, sizeof enc, &len), LX_OK);
    assert_int_equal(len, 17);
    enc[16] = 1; /* a depth the shape does not allow */
    assert_int_equal(lx_merkle_proof_decode(&p, enc, len), LX_EFORMAT);
    lx_merkle_tree_free(&t);

    /* Decoding index >= count, and encoding into a short buffer. */
    memset(enc, 0, 17);
    assert_int_equal(lx_merkle_proof_decode(&p, enc, 17), LX_EFORMAT); /* count 0 */
    assert_int_equal(lx_merkle_proof_decode(&p, enc, 3), LX_EFORMAT);
    p.depth = 2;
    assert_int_equal(lx_merkle_proof_encode(&p, enc, 17, &len), LX_EINVAL);
    p.depth = LX_MERKLE_DEPTH_MAX + 1;
    assert_int_equal(lx_merkle_proof_encode(&p, enc, sizeof enc, &len), LX_EINVAL);

    /* An empty tree has no proofs. */
    assert_int_equal(lx_merkle_tree_new(&t, NULL, 0), LX_OK);
    assert_int_equal(lx_merkle_tree_proof(t, &p, 0), LX_EINVAL);
    lx_merkle_tree_free(&t);
    lx_merkle_tree_free(&t);
    lx_merkle_tree_free(NULL);
    assert_int_equal(lx_merkle_tree_new(NULL, one, 1), LX_EINVAL);
    assert_int_equal(lx_merkle_proof_verify(NULL, one, &p), LX_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leaf_and_node_hash),
        cmocka_unit_test(test_roots),
        cmocka_unit_test(test_no_duplicate_ambiguity),
        cmocka_unit_test(test_proofs),
        cmocka_unit_test(test_proof_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
