/* SPDX-License-Identifier: MIT */
/*
 * What the libFuzzer targets share (docs/internals/fuzzing.md): a private
 * temporary folder removed at exit, input written to a file for parsers
 * that read files, the contract the store-backed targets use, and a store
 * that every input gets fresh (a copy of one migrated SQLite file), so an
 * input's outcome never depends on the inputs before it.
 */
#ifndef FY_FUZZ_UTIL_H
#define FY_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "core/contract.h"
#include "store/pool.h"
#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The process's temporary folder (made on first use, removed at exit). */
const char *fuzz_dir(void);

/* Writes data to fuzz_dir()/name; the path, or NULL (borrowed, static). */
const char *fuzz_file(const char *name, const uint8_t *data, size_t size);

/* Aborts with msg: a target whose fixed setup fails must not pass. */
void fuzz_die(const char *what, const struct ferry_err *err);

/*
 * The contract of the store-backed targets (rows, snapshot, http): every
 * column type, a device and a region column, a default, a blob column,
 * a two-column key. Parsed once; borrowed.
 */
const struct fy_contract *fuzz_contract(void);

/*
 * The device key every store holds: "fy_" FUZZ_KEY_ID "." then 64 hex
 * digits (FUZZ_KEY, in the seeds and dictionaries), device "dev1", no
 * region; FUZZ_ADMIN_KEY is an admin key, FUZZ_REGION_KEY one of region
 * "north".
 */
#define FUZZ_KEY                                                               \
    "fy_0123456789abcdef."                                                     \
    "1111111111111111111111111111111111111111111111111111111111111111"
#define FUZZ_ADMIN_KEY                                                         \
    "fy_aaaaaaaaaaaaaaaa."                                                     \
    "2222222222222222222222222222222222222222222222222222222222222222"
#define FUZZ_REGION_KEY                                                        \
    "fy_bbbbbbbbbbbbbbbb."                                                     \
    "3333333333333333333333333333333333333333333333333333333333333333"

/* A key record as the store gives it for text (one of the above). */
void fuzz_key(const char *text, struct fy_key *k);

/*
 * The store for this input: the migrated template with the three keys and
 * no rows, behind a pool of one connection. It is kept for the next input
 * unless fuzz_store_dirty() says this one may have changed it (a write
 * that succeeded): a refused write changes nothing, which is what ferry
 * promises, so every input starts from the same store.
 */
struct fy_store_pool *fuzz_store(void);
void fuzz_store_dirty(void);

#endif
