/* SPDX-License-Identifier: MIT */
/*
 * The agent's config.json (core/config.c), read from a file as `ferry`
 * does: both the full form and the network-only form (`ferry job run`),
 * then `ferry init`'s merge into the same file (no file is replaced).
 */
#include "core/config.h"
#include "fuzz_util.h"
#include "fy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file("config.json", data, size);
    struct fy_agent_config cfg = {0};
    struct fy_agent_init in = {.database = "/tmp/app.db", .device = "d1"};
    struct ferry_err err = {0};
    char *text = NULL, *old = NULL;

    if (fy_agent_config_load(path, &cfg, &err) == 0) {
        for (size_t i = 0; i < cfg.nfiles; i++)
            (void)fy_agent_config_file(&cfg, cfg.files[i].table);
        (void)fy_url_is_loopback(cfg.base_url);
    }
    fy_agent_config_release(&cfg);
    cfg = (struct fy_agent_config){0};
    (void)fy_agent_config_load_flags(path, FY_CONFIG_NETWORK_ONLY, &cfg, &err);
    fy_agent_config_release(&cfg);
    (void)fy_agent_config_merge(path, &in, &text, &old, &err);
    fy_free(text);
    fy_free(old);
    return 0;
}
