/* SPDX-License-Identifier: MIT */
/*
 * Snapshot uploads (server/snapshot.c): an old client's whole SQLite file,
 * checked (header, then opened with the defensive settings and checked
 * again by SQLite), read against the contract and merged into a fresh
 * store, as POST /v1/snapshot does with the body it streamed to a file.
 * The input is the file; its last byte's low bits pick the key (device,
 * admin, regional), a byte SQLite leaves alone in most files.
 */
#include <fcntl.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "server/snapshot.h"
#include "fy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const keys[] = {FUZZ_KEY, FUZZ_ADMIN_KEY,
                                       FUZZ_REGION_KEY, FUZZ_KEY};
    struct fy_snapshot_counts counts;
    struct ferry_err err = {0};
    struct fy_store_pool *pool;
    struct fy_key key;
    int fd;

    if (size == 0)
        return 0;
    fuzz_key(keys[data[size - 1] & 3], &key);
    fd = open(fuzz_file("upload.db", data, size), O_RDONLY);
    if (fd < 0)
        fuzz_die("upload", NULL);
    pool = fuzz_store();
    if (fy_snapshot_upload(pool, 1000, fuzz_contract(), &key, fd, size,
                           "application/vnd.sqlite3", fuzz_dir(), &counts,
                           &err) == 0)
        fuzz_store_dirty();
    close(fd);
    return 0;
}
