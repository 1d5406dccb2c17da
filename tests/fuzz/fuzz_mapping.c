/* SPDX-License-Identifier: MIT */
/*
 * Mapping files of `ferry import json` / `export json` (import/mapping.c).
 * A mapping that parses must write back (the --infer form) to JSON that
 * parses to the same mapping.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "import/mapping.h"
#include "fy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ferry_err err = {0};
    struct fy_mapping *m = NULL, *again = NULL;
    json_t *j, *j2 = NULL;
    char *text;

    if (fy_mapping_parse((const char *)data, size, &m, &err) < 0)
        return 0;
    j = fy_mapping_to_json(m);
    text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    if (!text)
        __builtin_trap();
    if (fy_mapping_parse(text, strlen(text), &again, &err) < 0)
        __builtin_trap();
    j2 = fy_mapping_to_json(again);
    if (!json_equal(j, j2) || again->ntables != m->ntables)
        __builtin_trap();
    for (size_t i = 0; i < m->ntables; i++) {
        const struct fy_map_table *t = m->tables[i];

        for (size_t k = 0; k < t->ncols; k++)
            if (fy_map_col_by_field(t, t->cols[k].field) == NULL)
                __builtin_trap();
    }
    json_decref(j2);
    free(text);
    json_decref(j);
    fy_mapping_free(again);
    fy_mapping_free(m);
    return 0;
}
