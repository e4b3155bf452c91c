/* Private file helpers (node/fileio.c) shared by the journal, snapshot and
 * recovery modules. */
#ifndef LX_NODE_JOURNAL_INT_H
#define LX_NODE_JOURNAL_INT_H

#include <stddef.h>
#include <stdint.h>

#include "lx/plugin.h"

/* Joins dir and name into out: LX_ETOOBIG if it does not fit. */
lx_err lx__path(char *out, size_t len, const char *dir, const char *name);
/* fsyncs a folder so that created, renamed and removed names are durable. */
lx_err lx__fsync_dir(const char *dir);
/* Creates one folder level; an existing one is fine. LX_ENOTFOUND without a
 * parent, LX_EIO otherwise. */
lx_err lx__mkdir(const char *dir);
/* mkdir -p: creates path and the folders above it that are missing. */
lx_err lx__mkdir_p(const char *path);
/* pwrite/pread of exactly n bytes at off, retrying short transfers: LX_EIO
 * on an error or an early end of file. */
lx_err lx__write_all(int fd, const uint8_t *p, size_t n, uint64_t off);
lx_err lx__read_all(int fd, uint8_t *p, size_t n, uint64_t off);
/* 1 if name is exactly 20 decimal digits followed by suffix; writes *seq. */
int lx__seq_name(uint64_t *seq, const char *name, const char *suffix);
/* The seqs of dir's files named lx__seq_name-style, ascending, in a malloc'd
 * array (the caller frees). LX_ENOTFOUND if dir does not exist. */
lx_err lx__list_seq_files(uint64_t **out, size_t *n, const char *dir, const char *suffix);

#endif /* LX_NODE_JOURNAL_INT_H */
