/* SPDX-License-Identifier: MIT */
/*
 * multipart/form-data (http/multipart.c), as snapshot uploads and file
 * forms use it. The input's first line is the Content-Type header's
 * value, the rest the body; the field is looked up by name ("db", as
 * snapshots do) and as the one file part (as attach.c does).
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "http/multipart.h"
#include "fy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *nl = memchr(data, '\n', size);
    size_t hlen = nl ? (size_t)(nl - (const char *)data) : size;
    char boundary[FY_MULTIPART_BOUNDARY_MAX + 1];
    struct ferry_err err = {0};
    char *ct = malloc(hlen + 1);
    const char *body = nl ? nl + 1 : (const char *)data + size;
    size_t blen = size - (size_t)(body - (const char *)data);
    size_t off, n;

    if (!ct)
        return 0;
    memcpy(ct, data, hlen);
    ct[hlen] = '\0';
    if (fy_multipart_boundary(ct, boundary, &err) == 0) {
        if (strlen(boundary) == 0 ||
            strlen(boundary) > FY_MULTIPART_BOUNDARY_MAX)
            __builtin_trap();
        if (fy_multipart_find(body, blen, boundary, "db", &off, &n, &err) ==
                0 &&
            (off > blen || n > blen - off))
            __builtin_trap();
        if (fy_multipart_find(body, blen, boundary, NULL, &off, &n, &err) ==
                0 &&
            (off > blen || n > blen - off))
            __builtin_trap();
    }
    free(ct);
    return 0;
}
