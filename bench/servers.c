/*
 * servers.c - the processes of shmkv-bench's server peers (servers.h), and
 * find_program.
 *
 * A server is started as a child of the bench, in its own private
 * directory; it also gets SIGKILL if the bench dies (PR_SET_PDEATHSIG).
 */
#include "bench.h"
#include "servers.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int find_program(const char *name)
{
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    char buf[1024];
    while (*path) {
        size_t n = strcspn(path, ":");
        snprintf(buf, sizeof buf, "%.*s/%s", (int)n, path, name);
        if (n && access(buf, X_OK) == 0)
            return 1;
        path += n + (path[n] == ':');
    }
    return 0;
}

uint64_t proc_rss(pid_t pid)
{
    char p[64], line[256];
    snprintf(p, sizeof p, "/proc/%d/status", (int)pid);
    FILE *f = fopen(p, "r");
    uint64_t kb = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %" SCNu64, &kb) == 1)
            break;
    fclose(f);
    return kb * 1024;
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Only async-signal-safe calls: used from the signal handler. */
void server_kill_now(struct server *sv)
{
    if (sv->pid > 0) {
        kill(sv->pid, SIGKILL);
        waitpid(sv->pid, NULL, 0);
        sv->pid = 0;
    }
    if (sv->dir[0]) {
        unlink(sv->sock);
        unlink(sv->log);
        rmdir(sv->dir);
    }
}

void server_remove_dir(struct server *sv)
{
    if (!sv->dir[0])
        return;
    DIR *d = opendir(sv->dir);
    if (d) {
        struct dirent *e;
        char p[512];
        while ((e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            snprintf(p, sizeof p, "%s/%s", sv->dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(sv->dir);
    sv->dir[0] = 0;
}

void server_stop(struct server *sv)
{
    if (sv->pid > 0) {
        pid_t pid = sv->pid;
        kill(pid, sv->stop_sig ? sv->stop_sig : SIGTERM);
        int i;
        for (i = 0; i < 300; i++) {
            if (waitpid(pid, NULL, WNOHANG) == pid)
                break;
            sleep_ms(10);
        }
        if (i == 300) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
        }
        sv->pid = 0;
    }
    server_remove_dir(sv);
}

static void log_tail(const struct server *sv, char *err, size_t n)
{
    char buf[2048] = "";
    int fd = open(sv->log, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        off_t end = lseek(fd, 0, SEEK_END);
        lseek(fd, end > 1000 ? end - 1000 : 0, SEEK_SET);
        ssize_t r = read(fd, buf, sizeof buf - 1);
        buf[r > 0 ? r : 0] = 0;
        close(fd);
    }
    for (char *p = buf; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    size_t used = strlen(err);
    if (used < n && buf[0])
        snprintf(err + used, n - used, "; its log ends: %s", buf);
}

static int sock_connects(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    size_t len = strlen(path);
    if (len >= sizeof a.sun_path) {
        close(fd);
        return 0;
    }
    memcpy(a.sun_path, path, len + 1);
    int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

int server_prepare(struct server *sv, const char *tag, char *err, size_t n)
{
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp || strlen(tmp) > 60)
        tmp = "/tmp";
    snprintf(sv->dir, sizeof sv->dir, "%s/shmkv-bench-%s.XXXXXX", tmp, tag);
    if (!mkdtemp(sv->dir)) {
        snprintf(err, n, "mkdtemp %s: %s", sv->dir, strerror(errno));
        sv->dir[0] = 0;
        return -1;
    }
    snprintf(sv->sock, sizeof sv->sock, "%s/%s.sock", sv->dir, tag);
    snprintf(sv->log, sizeof sv->log, "%s/%s.log", sv->dir, tag);
    return 0;
}

int server_start(struct server *sv, char *const argv[], char *err, size_t n)
{
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, n, "fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        signal(SIGINT, SIG_IGN); /* the bench stops it */
        int in = open("/dev/null", O_RDONLY);
        int out = open(sv->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
            _exit(127);
        execvp(argv[0], argv);
        dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    sv->pid = pid;
    for (int i = 0; i < 1000; i++) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            sv->pid = 0;
            snprintf(err, n, "%s exited at once (status %d)", sv->prog,
                     WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
            log_tail(sv, err, n);
            return -1;
        }
        if (sock_connects(sv->sock))
            return 0;
        sleep_ms(10);
    }
    snprintf(err, n, "%s did not open %s within 10 s", sv->prog, sv->sock);
    log_tail(sv, err, n);
    server_stop(sv);
    return -1;
}

const char *program_version(const char *cmd, const char *prefix, char *out, size_t n)
{
    FILE *p = popen(cmd, "r");
    char line[256];
    snprintf(out, n, "?");
    if (!p)
        return out;
    if (fgets(line, sizeof line, p)) {
        const char *v = strstr(line, prefix);
        if (v) {
            v += strlen(prefix);
            snprintf(out, n, "%.*s", (int)strcspn(v, " \n"), v);
        }
    }
    pclose(p);
    return out;
}
