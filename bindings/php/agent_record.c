/*
 * agent_record.c - the near-cache agent's record parser (tools/redis/
 * record.c, found through the include path config.m4 gives), compiled
 * into the extension for Shmkv\NearCache (near.c): the protocol's record
 * is read by the agent's own code rather than a second copy of it.
 */
#include "record.c"
