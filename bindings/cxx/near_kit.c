/*
 * near_kit.c - near_kit.h on the C kit of the near-cache tests
 * (tools/redis/test/kit_servers.c, kit_agent.c) and the test harness.
 */
#include "near_kit.h"

#include "kit.h"

#include <signal.h>
#include <stdlib.h>

static struct srv server;
static struct agent_proc agent;

int nk_main(int argc, char **argv, const char *test_name, const struct nk_part *parts, size_t nparts)
{
    struct h_part *h = calloc(nparts, sizeof *h);
    if (!h)
        return 2;
    for (size_t i = 0; i < nparts; i++)
        h[i] = (struct h_part){parts[i].name, parts[i].run};
    int rc = h_main(argc, argv, test_name, h, nparts);
    free(h);
    return rc;
}

void nk_fail(const char *file, int line, const char *what)
{
    h_fail(file, line, "%s", what);
}

const char *nk_redis_start(void)
{
    srv_start(&server, "redis", 0);
    return server.addr;
}

void nk_redis_stop(void)
{
    srv_kill(&server, SIGTERM);
}

void nk_table_name(char *buf, size_t cap)
{
    h_name(buf, cap, "near");
}

int nk_agent_start(const char *table, void *db, const char *const *extra, double timeout_s)
{
    agent_start(&agent, table, server.addr, extra);
    int rc = agent_wait_alive(db, timeout_s, 0);
    if (rc)
        agent_show_log(&agent);
    return rc;
}

void nk_agent_stop(void)
{
    agent_signal(&agent, SIGTERM);
}
