/* SPDX-License-Identifier: MIT */
/*
 * The contract and device of the push corpus (tests/fuzz/push): fuzz_push
 * grows that corpus against it, and tests/unit/test_push_diff.c replays it
 * against the jansson flow with the same, so the two must not drift.
 */
#ifndef FY_FUZZ_PUSH_CONTRACT_H
#define FY_FUZZ_PUSH_CONTRACT_H

static const char push_corpus_contract[] =
    "{\"version\": 1, \"tables\": [{\"name\": \"t\", \"columns\": ["
    "{\"name\": \"id\", \"type\": \"bigint\"},"
    "{\"name\": \"name\", \"type\": \"text\"},"
    "{\"name\": \"score\", \"type\": \"double precision\"},"
    "{\"name\": \"doc\", \"type\": \"jsonb\"},"
    "{\"name\": \"ok\", \"type\": \"boolean\"},"
    "{\"name\": \"at\", \"type\": \"timestamptz\"},"
    "{\"name\": \"amount\", \"type\": \"numeric\"}],"
    "\"primary_key\": [\"id\", \"name\"]}]}";

#endif
