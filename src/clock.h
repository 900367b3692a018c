/* clock.h - table time in milliseconds, agreed by every process on the host (clock.c). */
#ifndef SHMKV_CLOCK_H
#define SHMKV_CLOCK_H

#include "handle.h"

#include <stdint.h>

uint64_t shmkv__clock_now(const shmkv *db); /* never 0 */
void shmkv__clock_open(shmkv *db);          /* at open: this handle's base (rebased after a reboot) */
void shmkv__clock_init(shmkv *db);          /* at creation */
void shmkv__clock_note(shmkv *db, uint64_t now); /* a writer saw table time now */

#ifdef SHMKV_TEST_HOOKS
void shmkv__clock_advance(int64_t ms); /* test builds: move this process's clock on */
#endif

#endif
