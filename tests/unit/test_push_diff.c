/* SPDX-License-Identifier: MIT */
/*
 * The push parser against the flow it replaced, on a corpus: every body of
 * tests/fuzz/push (a fuzzer's corpus, minimised: 553 inputs that reach
 * every branch it found, two seeds and three inputs it once failed on,
 * 558 in all) is read by jansson with duplicates refused and
 * checked change by change as ferryd did before the streaming parser
 * (the reference below is that code, kept here), and by fy_push_parse.
 * Both must agree on the outcome, on each refused change's details, and
 * on every accepted change's values. The one known difference: raw NUL
 * bytes, which jansson takes in places and JSON does not (skipped).
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/hlc.h"
#include "server/push.h"
#include "server/push_parse.h"
#include "../fuzz/push_contract.h"
#include "fy.h"

/* ---- the reference: POST /v1/push's parse and checks before yajl ------- */

/* Shape of one change: seq, table, op, hlc, row. */
static int parse_head(struct fy_validate *v, json_t *jc, int64_t prev,
                      struct fy_change *ch, json_t **row)
{
    json_t *jseq = json_object_get(jc, "seq");
    const char *op = json_string_value(json_object_get(jc, "op"));
    const char *hlc = json_string_value(json_object_get(jc, "hlc"));
    const char *table = json_string_value(json_object_get(jc, "table"));

    ch->seq = json_is_integer(jseq) ? json_integer_value(jseq) : 0;
    if (!json_is_object(jc) || ch->seq <= 0)
        return fy_validate_reject(
            v, ch->seq, FERRY_WIRE_INVALID_CHANGE,
            "a change needs \"seq\" as a positive integer");
    if (ch->seq > FERRY_SEQ_MAX)
        return fy_validate_reject(v, ch->seq, FERRY_WIRE_INVALID_CHANGE,
                                  "\"seq\" must be at most %lld (2^53 - 1)",
                                  (long long)FERRY_SEQ_MAX);
    if (ch->seq <= prev)
        return fy_validate_reject(v, ch->seq, FERRY_WIRE_SEQ_ORDER,
                                  "seq must increase within a batch");
    if (!op || (strcmp(op, "upsert") != 0 && strcmp(op, "delete") != 0))
        return fy_validate_reject(v, ch->seq, FERRY_WIRE_INVALID_CHANGE,
                                  "\"op\" must be \"upsert\" or \"delete\"");
    ch->del = op[0] == 'd';
    if (!hlc || fy_hlc_parse(hlc, &ch->hlc) < 0)
        return fy_validate_reject(v, ch->seq, FERRY_WIRE_INVALID_CHANGE,
                                  "\"hlc\" must be 16 hex digits");
    *row = json_object_get(jc, "row");
    if (!json_is_object(*row))
        return fy_validate_reject(v, ch->seq, FERRY_WIRE_INVALID_CHANGE,
                                  "\"row\" must be an object");
    if (!table || !(ch->table = fy_contract_table(v->c, table)))
        return fy_validate_reject(v, ch->seq, FERRY_WIRE_UNKNOWN_TABLE,
                                  "no table '%s' in the contract",
                                  table ? table : "(missing)");
    return 0;
}

static int validate_change(struct fy_validate *v, json_t *jc, int64_t prev,
                           struct fy_change *ch)
{
    json_t *row = NULL;
    int rc = parse_head(v, jc, prev, ch, &row);

    if (rc < 0)
        return rc;
    ch->vals = fy_arena_calloc(v->a, ch->table->ncols, sizeof(*ch->vals));
    if (!ch->vals)
        return FERRY_ENOMEM;
    return fy_validate_row(v, ch->table, row, ch);
}

static int parse_body(const char *body, size_t len, const struct fy_key *key,
                      json_t **root, json_t **changes, struct ferry_err *err)
{
    json_error_t jerr;
    json_t *dev;

    /* A key given twice is ambiguous: refuse it, as the contract parser. */
    *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!*root)
        return fy_err_status(err, FERRY_EPARSE, 400,
                             "malformed JSON at line %d column %d: %s",
                             jerr.line, jerr.column, jerr.text);
    *changes = json_object_get(*root, "changes");
    if (!json_is_object(*root) || !json_is_array(*changes))
        return fy_err_status(err, FERRY_EPARSE, 400,
                             "the body must be an object with a"
                             " \"changes\" array");
    if (json_array_size(*changes) > FY_PUSH_MAX_CHANGES)
        return fy_err_status(err, FERRY_ETOOBIG, 413,
                             "at most %d changes per batch",
                             FY_PUSH_MAX_CHANGES);
    dev = json_object_get(*root, "device");
    if (dev && !json_is_null(dev) &&
        (!json_is_string(dev) ||
         strcmp(json_string_value(dev), key->device) != 0))
        return fy_err_status(err, FERRY_EFORBIDDEN, 403,
                             "this key belongs to device '%s'", key->device);
    return 0;
}

static int validate_all(struct fy_validate *v, json_t *jchanges,
                        struct fy_change **out, size_t *n,
                        struct ferry_err *err)
{
    size_t count = json_array_size(jchanges), i;
    struct fy_change *chs = fy_arena_calloc(v->a, count, sizeof(*chs));
    int64_t prev = 0;
    json_t *jc;

    if (!chs)
        return fy_err_status(err, FERRY_ENOMEM, 500, "out of memory");
    json_array_foreach(jchanges, i, jc)
    {
        int rc = validate_change(v, jc, prev, &chs[i]);

        if (rc == FERRY_ENOMEM)
            return fy_err_status(err, FERRY_ENOMEM, 500, "out of memory");
        if (chs[i].seq > prev)
            prev = chs[i].seq;
    }
    if (v->nbad)
        return fy_err_status(err,
                             v->status == 403   ? FERRY_EFORBIDDEN
                             : v->status == 404 ? FERRY_ENOTFOUND
                                                : FERRY_ECONTRACT,
                             v->status,
                             "%ld of %zu changes were rejected;"
                             " nothing was applied",
                             v->nbad, count);
    *out = chs;
    *n = count;
    return 0;
}

/* ---- the comparison --------------------------------------------------- */

static struct fy_contract *contract;
static char device[] = "dev1";

static bool same_val(const struct fy_val *x, const struct fy_val *y)
{
    return x->kind == y->kind && x->i == y->i &&
           memcmp(&x->d, &y->d, sizeof(x->d)) == 0 && x->len == y->len &&
           (!x->len || memcmp(x->s, y->s, x->len) == 0) && x->keep == y->keep;
}

static void same_changes(const char *file, const struct fy_change *a, size_t n,
                         const struct fy_push_doc *doc)
{
    if (n != doc->n)
        fail_msg("%s: %zu changes, the parser %zu", file, n, doc->n);
    for (size_t i = 0; i < n; i++) {
        const struct fy_change *b = &doc->chs[i];

        if (a[i].seq != b->seq || a[i].hlc != b->hlc || a[i].del != b->del ||
            a[i].keylen != b->keylen ||
            memcmp(a[i].key, b->key, a[i].keylen) != 0)
            fail_msg("%s: change %zu differs", file, i);
        for (size_t k = 0; k < a[i].table->ncols; k++) {
            if (!same_val(&a[i].vals[k], &b->vals[k]))
                fail_msg("%s: change %zu column %zu differs", file, i, k);
        }
    }
}

static int verdict_of(const struct fy_validate *v)
{
    return v->status == 403   ? FERRY_EFORBIDDEN
           : v->status == 404 ? FERRY_ENOTFOUND
                              : FERRY_ECONTRACT;
}

static void compare(const char *file, const char *body, size_t len)
{
    struct ferry_err e1 = {0}, e2 = {0};
    struct fy_key key = {.device = device};
    struct fy_arena a1 = FY_ARENA_INIT(0), a2 = FY_ARENA_INIT(0);
    struct fy_validate v1, v2;
    struct fy_push_doc doc;
    json_t *root = NULL, *jch = NULL;
    struct fy_change *chs = NULL;
    size_t n = 0;
    int r1, r2;

    fy_validate_init(&v1, contract, &key, &a1, "seq");
    fy_validate_init(&v2, contract, &key, &a2, "seq");
    r1 = parse_body(body, len, &key, &root, &jch, &e1);
    if (r1 == 0)
        r1 = validate_all(&v1, jch, &chs, &n, &e1);
    r2 = fy_push_parse(body, len, &v2, &doc, &e2);
    if (r2 == 0 && v2.nbad) {
        json_t *d1 = fy_validate_details(&v1), *d2 = fy_validate_details(&v2);

        if (!json_equal(d1, d2))
            fail_msg("%s: the refused changes differ", file);
        json_decref(d1);
        json_decref(d2);
        r2 = verdict_of(&v2);
    }
    if (r1 != r2)
        fail_msg("%s: %d (%s), the parser %d (%s)", file, r1, e1.msg, r2,
                 e2.msg);
    if (r1 == 0)
        same_changes(file, chs, n, &doc);
    fy_push_doc_release(&doc);
    fy_validate_release(&v1);
    fy_validate_release(&v2);
    json_decref(root);
    fy_arena_reset(&a1);
    fy_arena_reset(&a2);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *p = NULL;
    long n;

    if (f && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
        fseek(f, 0, SEEK_SET) == 0 && (p = malloc((size_t)n + 1)) &&
        fread(p, 1, (size_t)n, f) == (size_t)n) {
        *len = (size_t)n;
    } else {
        free(p);
        p = NULL;
    }
    if (f)
        fclose(f);
    return p;
}

static void test_corpus(void **state)
{
    DIR *d = opendir(FERRY_SOURCE_DIR "/tests/fuzz/push");
    struct dirent *e;
    int files = 0;

    (void)state;
    assert_non_null(d);
    while ((e = readdir(d))) {
        char path[1024];
        size_t len = 0;
        char *body;

        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/tests/fuzz/push/%s", FERRY_SOURCE_DIR,
                 e->d_name);
        body = slurp(path, &len);
        assert_non_null(body);
        if (!memchr(body, '\0', len))
            compare(e->d_name, body, len);
        free(body);
        files++;
    }
    closedir(d);
    assert_true(files > 500);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_corpus)};
    struct ferry_err err = {0};
    int rc;

    if (fy_contract_parse(push_corpus_contract, strlen(push_corpus_contract),
                          &contract, &err) < 0)
        return 1;
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    fy_contract_free(contract);
    return rc;
}
