/* SPDX-License-Identifier: MIT */
/*
 * Contract files (core/contract.c): ferryd's --contract and what `ferry
 * contract` compares. A contract that parses must print as canonical JSON
 * that parses again to the same checksum, and compare with itself as equal.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "fy.h"

static void no_line(const char *line, void *ud)
{
    (void)line;
    (void)ud;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ferry_err err = {0};
    struct fy_contract *c = NULL, *again = NULL;
    json_t *j;
    char *text;

    if (fy_contract_parse((const char *)data, size, &c, &err) < 0)
        return 0;
    j = fy_contract_to_json(c);
    text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    if (!text)
        __builtin_trap();
    if (fy_contract_parse(text, strlen(text), &again, &err) < 0 ||
        strcmp(c->checksum, again->checksum) != 0 ||
        fy_contract_diff(c, again, no_line, NULL) != 0)
        __builtin_trap();
    for (size_t i = 0; i < c->ntables; i++) {
        const struct fy_table *t = &c->tables[i];

        if (fy_contract_table(c, t->name) != t)
            __builtin_trap();
        for (size_t k = 0; k < t->ncols; k++)
            (void)fy_table_is_pk(t, k);
        (void)fy_table_default_read(t);
    }
    free(text);
    json_decref(j);
    fy_contract_free(again);
    fy_contract_free(c);
    return 0;
}
