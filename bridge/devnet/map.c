/* A map from 32-byte ids (txIDs, UTXO ids) to pointers: open addressing with
 * linear probing and backward-shift deletion, so there are no tombstones. */
#include <stdlib.h>
#include <string.h>

#include "devnet.h"

struct lx__dn_slot {
    uint8_t key[LX__DN_ID];
    void *val;
};

static size_t slot_of(const lx__dn_map *m, const uint8_t key[LX__DN_ID])
{
    /* Keys are sha256 outputs, so any eight of their bytes hash well. */
    uint64_t h;
    memcpy(&h, key, sizeof h);
    return (size_t)(h & (m->cap - 1));
}

void lx__dn_map_init(lx__dn_map *m)
{
    memset(m, 0, sizeof *m);
}

void lx__dn_map_free(lx__dn_map *m)
{
    free(m->slots);
    lx__dn_map_init(m);
}

static lx_err grow(lx__dn_map *m)
{
    size_t cap = m->cap ? m->cap * 2 : 64;
    struct lx__dn_slot *old = m->slots;
    size_t oldcap = m->cap;
    struct lx__dn_slot *s = calloc(cap, sizeof *s);
    if (!s)
        return LX_ENOMEM;
    m->slots = s;
    m->cap = cap;
    for (size_t i = 0; i < oldcap; i++) {
        if (!old[i].val)
            continue;
        size_t j = slot_of(m, old[i].key);
        while (m->slots[j].val)
            j = (j + 1) & (cap - 1);
        m->slots[j] = old[i];
    }
    free(old);
    return LX_OK;
}

lx_err lx__dn_map_put(lx__dn_map *m, const uint8_t key[LX__DN_ID], void *val)
{
    LX_ASSERT(val != NULL);
    if ((m->n + 1) * 4 > m->cap * 3) {
        lx_err err = grow(m);
        if (err)
            return err;
    }
    size_t i = slot_of(m, key);
    while (m->slots[i].val) {
        if (memcmp(m->slots[i].key, key, LX__DN_ID) == 0)
            return LX_EEXIST;
        i = (i + 1) & (m->cap - 1);
    }
    memcpy(m->slots[i].key, key, LX__DN_ID);
    m->slots[i].val = val;
    m->n++;
    return LX_OK;
}

static size_t find(const lx__dn_map *m, const uint8_t key[LX__DN_ID])
{
    if (!m->cap)
        return SIZE_MAX;
    size_t i = slot_of(m, key);
    while (m->slots[i].val) {
        if (memcmp(m->slots[i].key, key, LX__DN_ID) == 0)
            return i;
        i = (i + 1) & (m->cap - 1);
    }
    return SIZE_MAX;
}

void *lx__dn_map_get(const lx__dn_map *m, const uint8_t key[LX__DN_ID])
{
    size_t i = find(m, key);
    return i == SIZE_MAX ? NULL : m->slots[i].val;
}

void *lx__dn_map_del(lx__dn_map *m, const uint8_t key[LX__DN_ID])
{
    size_t i = find(m, key);
    if (i == SIZE_MAX)
        return NULL;
    void *val = m->slots[i].val;
    size_t mask = m->cap - 1;
    /* Shift later members of the probe run back so lookups never stop early. */
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!m->slots[j].val)
            break;
        size_t home = slot_of(m, m->slots[j].key);
        /* Move j into the hole i unless home lies cyclically in (i, j]. */
        bool stays = (i <= j) ? (i < home && home <= j) : (i < home || home <= j);
        if (!stays) {
            m->slots[i] = m->slots[j];
            i = j;
        }
    }
    m->slots[i].val = NULL;
    m->n--;
    return val;
}

void *lx__dn_map_next(const lx__dn_map *m, size_t *pos)
{
    while (*pos < m->cap) {
        void *v = m->slots[*pos].val;
        (*pos)++;
        if (v)
            return v;
    }
    return NULL;
}
