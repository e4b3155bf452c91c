/* Private helpers of the log block, journal and snapshot modules: big-endian
 * loads and stores, and CRC32C (Castagnoli) record checksums. */
#ifndef LX_NODE_LOGIO_H
#define LX_NODE_LOGIO_H

#include <stddef.h>
#include <stdint.h>

static inline void lx__put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void lx__put_u64(uint8_t *p, uint64_t v)
{
    lx__put_u32(p, (uint32_t)(v >> 32));
    lx__put_u32(p + 4, (uint32_t)v);
}

static inline uint32_t lx__get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline uint64_t lx__get_u64(const uint8_t *p)
{
    return (uint64_t)lx__get_u32(p) << 32 | lx__get_u32(p + 4);
}

/* CRC32C of len bytes, continuing from crc (start with 0): with the SSE4.2
 * crc32 instruction when lx__crc32c_hw() says the CPU has it, else
 * lx__crc32c_sw (slicing-by-8; its tables are built once, thread-safely). */
uint32_t lx__crc32c(uint32_t crc, const void *buf, size_t len);
uint32_t lx__crc32c_sw(uint32_t crc, const void *buf, size_t len);
int lx__crc32c_hw(void);

#endif /* LX_NODE_LOGIO_H */
