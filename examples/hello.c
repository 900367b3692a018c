#include <shmkv.h>
#include <stdio.h>

int main(void)
{
    shmkv *db;
    int rc = shmkv_open("example", NULL, &db); /* /dev/shm/example, created if needed */
    if (rc) {
        fprintf(stderr, "open: %s\n", shmkv_strerror(rc));
        return 1;
    }
    rc = shmkv_put(db, "hello", 5, "world", 5);
    if (rc)
        fprintf(stderr, "put: %s\n", shmkv_strerror(rc));

    char buf[64];
    size_t len;
    rc = shmkv_get(db, "hello", 5, buf, sizeof buf, &len);
    if (rc == 0)
        printf("hello -> %.*s\n", (int)len, buf);
    else
        fprintf(stderr, "get: %s\n", shmkv_strerror(rc)); /* e.g. -ENOENT */

    shmkv_close(db);           /* the table stays until shmkv_unlink("example") */
    return rc ? 1 : 0;
}
