/* SPDX-License-Identifier: MIT */
/*
 * POST /v1/push bodies: the streaming parser (server/push_parse.c) and the
 * checks of each change against the contract. The contract and key are
 * test_push_diff's, so this target's corpus (tests/fuzz/push) is also
 * the corpus that test compares with the jansson flow.
 */
#include <string.h>

#include "fuzz_util.h"
#include "server/push_parse.h"
#include "push_contract.h"
#include "fy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fy_contract *c;
    static char device[] = "dev1";
    struct fy_key key = {.device = device};
    struct ferry_err err = {0};
    struct fy_arena a = FY_ARENA_INIT(0);
    struct fy_validate v;
    struct fy_push_doc doc;

    if (!c && fy_contract_parse(push_corpus_contract,
                                strlen(push_corpus_contract), &c, &err) < 0)
        fuzz_die("contract", &err);
    fy_validate_init(&v, c, &key, &a, "seq");
    if (fy_push_parse((const char *)data, size, &v, &doc, &err) == 0 &&
        v.nbad) {
        json_t *d = fy_validate_details(&v);

        /* The refusals are sent as JSON: they must encode. */
        char *text = json_dumps(d, JSON_COMPACT);

        if (!text)
            __builtin_trap();
        free(text);
        json_decref(d);
    }
    fy_push_doc_release(&doc);
    fy_validate_release(&v);
    fy_arena_reset(&a);
    return 0;
}
