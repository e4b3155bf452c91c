/* Private helpers of the log block, journal and snapshot modules: big-endian
 * loads and stores (lx/bytes.h), and CRC32C (Castagnoli) record checksums. */
#ifndef LX_NODE_LOGIO_H
#define LX_NODE_LOGIO_H

#include <stddef.h>
#include <stdint.h>

#include "lx/bytes.h" /* big-endian loads and stores */

/* CRC32C of len bytes, continuing from crc (start with 0): with the SSE4.2
 * crc32 instruction when lx__crc32c_hw() says the CPU has it, else
 * lx__crc32c_sw (slicing-by-8; its tables are built once, thread-safely). */
uint32_t lx__crc32c(uint32_t crc, const void *buf, size_t len);
uint32_t lx__crc32c_sw(uint32_t crc, const void *buf, size_t len);
int lx__crc32c_hw(void);

#endif /* LX_NODE_LOGIO_H */
