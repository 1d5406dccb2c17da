/* SPDX-License-Identifier: MIT */
/*
 * The byte-range headers ferry reads itself: Range on downloads
 * (http/server.c's fy_http_range: blobs, snapshots, files) and
 * Content-Range on blob uploads (server/blob.c). The input's first 8
 * bytes are the content's size, the rest the header's value. What is
 * accepted must lie inside the content.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "http/server.h"
#include "server/blob.h"
#include "fy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t total = 0, off, len, start, end, whole;
    struct ferry_err err = {0};
    char *h;

    if (size < 8)
        return 0;
    for (int i = 0; i < 8; i++)
        total = total << 8 | data[i];
    /* Sizes near 2^64 as well as small ones: both ends matter. */
    if (data[0] < 0xf0)
        total &= 0xffffff;
    h = malloc(size - 8 + 1);
    if (!h)
        return 0;
    memcpy(h, data + 8, size - 8);
    h[size - 8] = '\0';
    switch (fy_http_range(h, total, &off, &len)) {
    case 1:
        if (len == 0 || off >= total || len > total - off)
            __builtin_trap();
        break;
    case 0:
    case -1:
        break;
    default:
        __builtin_trap();
    }
    if (fy_blob_content_range(h, &start, &end, &whole, &err) == 0 &&
        (start > end || end >= whole || whole > ((uint64_t)1 << 62)))
        __builtin_trap();
    free(h);
    return 0;
}
