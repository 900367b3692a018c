/*
 * run_tool.h - running the shmkv command-line tool of this build from a C
 * test: as a user would, in a process of its own, under a time limit.
 */
#ifndef SHMKV_TEST_RUN_TOOL_H
#define SHMKV_TEST_RUN_TOOL_H

/* Exit status of a process that a sanitizer stopped with a report: the
 * tests set it for themselves and for the tools they run. */
#define TOOL_SANITIZER_EXIT 86

/* The tool beside this test's directory: "<dir of this program>/../shmkv". */
const char *tool_path(void);

/* Run the tool with the arguments argv (NULL-terminated, without the
 * program name), standard output and error to the files out and err
 * (NULL: /dev/null), killed by SIGALRM after limit_s seconds.  Returns the
 * wait status, or -1 if it could not be started. */
int tool_run(const char *const *argv, const char *out, const char *err, unsigned limit_s);

/* Set the sanitizers' exit status (above) for the processes this one
 * starts, keeping whatever else $ASAN_OPTIONS and $UBSAN_OPTIONS say. */
void tool_sanitizer_env(void);

#endif
