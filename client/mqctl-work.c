/* SPDX-License-Identifier: MIT (see client/COPYING) */
/* mqctl work: a command run for each message, taken with a reliable read:
 * acked when the command exits 0, given back otherwise. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE               /* pipe2 */
#endif

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mqctl.h"

/* ---- the command -------------------------------------------------------- */

static void
close_pair (int fds[2])
{
  int e = errno;

  close (fds[0]);
  close (fds[1]);
  errno = e;
}

/* In the child: the message on standard input, the queue and its flags in
 * the environment.  exec's error goes back through err. */
static void
worker_child (char **command, const char *queue, const mq_message *m,
              int in, int err)
{
  char flags[16];
  int child_errno;
  ssize_t r;

  snprintf (flags, sizeof flags, "%" PRIu32, m->flags);
  if (dup2 (in, STDIN_FILENO) < 0)
    _exit (127);
  signal (SIGPIPE, SIG_DFL);
  setenv ("MQCTL_QUEUE", queue, 1);
  setenv ("MQCTL_FLAGS", flags, 1);
  execvp (command[0], command);
  child_errno = errno;
  r = write (err, &child_errno, sizeof child_errno);
  (void) r;
  _exit (127);
}

/* Its exit status (128 + signal when killed). */
static int
worker_wait (pid_t pid)
{
  int status;

  while (waitpid (pid, &status, 0) < 0)
    if (errno != EINTR)
      return 127;
  if (WIFEXITED (status))
    return WEXITSTATUS (status);
  return 128 + WTERMSIG (status);
}

/* exec closes err_fd's other end (close-on-exec): end of file means the
 * command started (0); else the errno exec failed with. */
static int
exec_error (int err_fd)
{
  int child_errno = 0;
  ssize_t r;

  do
    r = read (err_fd, &child_errno, sizeof child_errno);
  while (r < 0 && errno == EINTR);
  close (err_fd);
  return r == (ssize_t) sizeof child_errno ? child_errno : 0;
}

/* Starts the command; *in_fd writes to its standard input.  -1 with errno
 * set when it could not be started. */
static pid_t
worker_start (char **command, const char *queue, const mq_message *m,
              int *in_fd)
{
  int in[2], err[2];
  int child_errno;
  pid_t pid;

  if (pipe2 (in, O_CLOEXEC) < 0)
    return -1;
  if (pipe2 (err, O_CLOEXEC) < 0)
    {
      close_pair (in);
      return -1;
    }
  fflush (NULL);
  pid = fork ();
  if (pid < 0)
    {
      close_pair (in);
      close_pair (err);
      return -1;
    }
  if (pid == 0)
    worker_child (command, queue, m, in[0], err[1]);
  close (in[0]);
  close (err[1]);
  child_errno = exec_error (err[0]);
  *in_fd = in[1];
  if (child_errno == 0)
    return pid;
  close (in[1]);
  worker_wait (pid);
  errno = child_errno;
  return -1;
}

/* Feeds the message to the command's standard input and waits for it:
 * its exit status, or -1 with errno set when it could not be started. */
static int
run_worker_command (char **command, const char *queue, const mq_message *m)
{
  const char *p = m->data;
  size_t left = m->len;
  int in_fd;
  pid_t pid = worker_start (command, queue, m, &in_fd);

  if (pid < 0)
    return -1;
  /* A command that does not read all of its input is its own business:
   * EPIPE just ends the writing (SIGPIPE is ignored). */
  while (left > 0)
    {
      ssize_t r = write (in_fd, p, left);

      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0)
        break;
      p += r;
      left -= (size_t) r;
    }
  close (in_fd);
  return worker_wait (pid);
}

/* ---- the loop ----------------------------------------------------------- */

typedef struct {
  const char *queue;
  char **command;
  int wait_ms;                    /* -w */
  int pause_ms;                   /* -d; -1: not given */
  int64_t lease_ms;               /* -L; MQ_QUEUE_RULE: the queue's */
  int64_t retry_delay_ms;         /* -R; MQ_QUEUE_RULE: the queue's */
  unsigned long long count;       /* -n; 0: no limit */
  unsigned long long done, handled;
} work_run;

/* The command failed with status: the message goes back (to come again
 * after -R, or the queue's retry_delay), and the next waits a little. */
static void
work_give_back (mqctl *ctl, const work_run *w, int status)
{
  mq_status st = mq_abort_delayed (ctl->client, w->queue, w->retry_delay_ms);

  if (st != MQ_OK)
    ctl_warn ("%s exited with status %d, and giving the message back "
              "failed: %s", w->command[0], status,
              mq_client_error (ctl->client));
  else if (w->retry_delay_ms > 0)
    ctl_warn ("%s exited with status %d: the message was given back to %s, "
              "due again in %" PRId64 "ms", w->command[0], status, w->queue,
              w->retry_delay_ms);
  else
    ctl_warn ("%s exited with status %d: the message was given back to %s",
              w->command[0], status, w->queue);
  if (w->pause_ms > 0)
    ctl_pause_ms (w->pause_ms);
}

/* Acks the message when the command exited 0, else gives it back:
 * CTL_GO_ON, or the exit code when the command cannot be run. */
static int
work_settle (mqctl *ctl, work_run *w, int status)
{
  if (status < 0)
    {
      int e = errno;

      /* Given back either way: the connection closes at exit. */
      mq_abort (ctl->client, w->queue);
      ctl_warn ("cannot run %s: %s; the message was given back to %s",
                w->command[0], strerror (e), w->queue);
      return EXIT_USAGE;
    }
  if (status > 0)
    work_give_back (ctl, w, status);
  else if (mq_ack (ctl->client, w->queue) == MQ_OK)
    w->done++;
  else
    ctl_warn ("%s (the message will be delivered again)",
              mq_client_error (ctl->client));
  return CTL_GO_ON;
}

static int
work_loop (mqctl *ctl, work_run *w)
{
  while (w->count == 0 || w->done < w->count)
    {
      mq_message *m;
      int status;
      mq_status st = mq_pop_open_lease (ctl->client, w->queue, w->wait_ms,
                                        w->lease_ms, &m);

      if (st == MQ_EMPTY)
        break;
      if (ctl_lost_connection (st))
        {
          ctl_reconnect_later (ctl);
          continue;
        }
      if (st != MQ_OK)
        return ctl_fail (ctl, st);
      w->handled++;
      status = run_worker_command (w->command, w->queue, m);
      mq_message_free (m);
      status = work_settle (ctl, w, status);
      if (status != CTL_GO_ON)
        return status;
    }
  return w->handled > 0 ? EXIT_DONE : EXIT_NOTHING;
}

static int
run_work (mqctl *ctl, int argc, char **argv)
{
  work_run w = { .wait_ms = MQ_WAIT_FOREVER, .pause_ms = -1,
                 .lease_ms = MQ_QUEUE_RULE, .retry_delay_ms = MQ_QUEUE_RULE };
  const ctl_option options[] = {
    { 'w', "wait", ctl_parse_seconds, &w.wait_ms, 0 },
    { 'n', "count", ctl_parse_count, &w.count, 0 },
    { 'd', "delay", ctl_parse_seconds, &w.pause_ms, 0 },
    { 'L', "lease", ctl_parse_lease, &w.lease_ms, 0 },
    { 'R', "retry-delay", ctl_parse_duration, &w.retry_delay_ms, 0 },
  };
  struct sigaction ignore;
  int code = ctl_parse_options (ctl, argc, argv, options,
                                sizeof options / sizeof options[0]);

  if (code != CTL_GO_ON)
    return code;
  /* With -R the daemon spaces the tries: no pause of our own. */
  if (w.pause_ms < 0)
    w.pause_ms = w.retry_delay_ms == MQ_QUEUE_RULE ? 1000 : 0;
  code = ctl_queue_argument (ctl, argc, argv,
                             "work needs a queue name and a command",
                             &w.queue);
  if (code != EXIT_DONE)
    return code;
  if (optind >= argc)
    return ctl_usage_error (ctl, "work needs a command to run: mqctl work "
                            "%s -- COMMAND [ARG...]", w.queue);
  w.command = argv + optind;
  if ((code = ctl_connect (ctl)) != EXIT_DONE)
    return code;
  memset (&ignore, 0, sizeof ignore);
  ignore.sa_handler = SIG_IGN;
  sigaction (SIGPIPE, &ignore, NULL);
  return work_loop (ctl, &w);
}

const ctl_command ctl_work = {
  "work", run_work, "[-w SECONDS] [-n COUNT] [-d SECONDS] [-L DURATION] "
  "[-R DURATION] QUEUE -- COMMAND [ARG...]",
"Runs COMMAND once for each message of QUEUE, with the message on its\n"
"standard input, and $MQCTL_QUEUE and $MQCTL_FLAGS in its environment.\n"
"The message is taken with a reliable read: it is deleted when COMMAND\n"
"exits with status 0, and given back to the queue otherwise.\n"
"If mqctl itself dies meanwhile, the daemon gives the message back.\n"
"\n"
"  -w, --wait=SECONDS  stop once the queue stayed empty this long\n"
"                      (default: wait for ever)\n"
"  -n, --count=COUNT   stop after COUNT messages were done\n"
"  -d, --delay=SECONDS pause after a failed COMMAND (default 1; 0 with -R)\n"
"  -L, --lease=DURATION  a COMMAND still running after DURATION (500ms,\n"
"                      30s, 5m, 2h) loses its message: the daemon gives\n"
"                      it back (default: the queue's lease rule)\n"
"  -R, --retry-delay=DURATION  a message given back comes again after\n"
"                      DURATION (default: the queue's retry_delay rule)\n"
"\n"
"A broken connection is reconnected every second.\n"
"Exit status: 0 messages were handled; 1 none came within -w; 2 COMMAND\n"
"cannot be run; 3 server error.\n",
};
