/* SPDX-License-Identifier: MIT */
/*
 * Row API bodies (POST and PATCH /v1/tables/{table}/rows): the JSON read
 * as the handler reads it (duplicates refused), every row checked
 * (validate.c) and written through rows_write.c into a fresh SQLite store,
 * twice (the second write meets the stored row). The input's first byte
 * picks the table (bit 0), PATCH (bit 1) and the key (bits 2-3: device,
 * admin, regional); the rest is the body.
 */
#include "fuzz_util.h"
#include "server/rows.h"
#include "fy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const keys[] = {FUZZ_KEY, FUZZ_ADMIN_KEY,
                                       FUZZ_REGION_KEY, FUZZ_KEY};
    const struct fy_contract *c = fuzz_contract();
    struct fy_store_pool *pool;
    struct fy_api api;
    struct fy_key key;
    struct ferry_err err = {0};
    enum fy_row_outcome o;
    json_error_t jerr;
    json_t *row;

    if (size < 1)
        return 0;
    row = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES,
                     &jerr);
    if (!row)
        return 0;
    fuzz_key(keys[data[0] >> 2 & 3], &key);
    pool = fuzz_store();
    api = (struct fy_api){.pool = pool, .contract = c, .pool_wait_ms = 1000};
    for (int i = 0; i < 2; i++) {
        if (fy_rows_set(&api, &key, &c->tables[data[0] & 1], row,
                        (data[0] & 2) != 0, &o, &err) < 0)
            break;
        fuzz_store_dirty();
    }
    json_decref(row);
    return 0;
}
