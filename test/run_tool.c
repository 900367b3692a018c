/* run_tool.c - see run_tool.h. */
#include "run_tool.h"

#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* A test's own sanitizer reports end it with the same status (the
 * runtime asks these hooks at start-up; plain builds never call them). */
const char *__asan_default_options(void);
const char *__ubsan_default_options(void);
const char *__asan_default_options(void) { return "exitcode=86"; }
const char *__ubsan_default_options(void) { return "exitcode=86"; }

const char *tool_path(void)
{
    static char path[PATH_MAX + 16];
    if (!path[0]) {
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0)
            return "shmkv";
        self[n] = 0;
        char *slash = strrchr(self, '/');
        *slash = 0;
        snprintf(path, sizeof path, "%s/../shmkv", self);
    }
    return path;
}

static void add_option(const char *var, const char *opt)
{
    const char *old = getenv(var);
    char buf[1024];
    snprintf(buf, sizeof buf, "%s%s%s", old && *old ? old : "", old && *old ? ":" : "", opt);
    setenv(var, buf, 1);
}

void tool_sanitizer_env(void)
{
    add_option("ASAN_OPTIONS", "exitcode=86");
    add_option("UBSAN_OPTIONS", "exitcode=86");
}

static void redirect(int fd, const char *path)
{
    int f = open(path ? path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (f >= 0 && f != fd) {
        dup2(f, fd);
        close(f);
    }
}

int tool_run(const char *const *argv, const char *out, const char *err, unsigned limit_s)
{
    const char *args[32] = {"shmkv"};
    int n = 1;
    for (; argv[n - 1] && n < 31; n++)
        args[n] = argv[n - 1];
    args[n] = NULL;
    if (access(tool_path(), X_OK) != 0) {
        h_fail(__FILE__, __LINE__, "%s: %s (build it with: make tools)", tool_path(), strerror(errno));
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        redirect(STDOUT_FILENO, out);
        redirect(STDERR_FILENO, err);
        alarm(limit_s); /* kept across exec: a hung tool dies of SIGALRM */
        execv(tool_path(), (char *const *)args);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return status;
}
