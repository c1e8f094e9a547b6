/*
 * vnetlab-spawner: starts a lab's network daemons (switches, port hubs, wirefilters) for its supervisor.
 *
 * A fork of the supervisor, a node process of ~60 MB, copies its page tables and then waits until the
 * child has exec'd: 5-15 ms of the supervisor's only thread per daemon under load, two daemons per
 * machine. This small process forks instead, while the supervisor goes on serving consoles.
 *
 * Requests on stdin, one frame each; the fields are NUL-terminated strings:
 *   S id stdin log argv0 ... argvN ""   fork a daemon: in a session of its own, held at a gate
 *   G id                                open the gate: the daemon's stdin becomes `stdin` (a FIFO, opened
 *                                       read-write; "-": /dev/null), stdout and stderr `log` (appended),
 *                                       then it execs argv0 (found in PATH)
 * Replies on stdout, one line each:
 *   P id pid                            forked and held (the supervisor records the pid, then says G)
 *   F id errno                          could not fork
 *   X pid code signal                   a daemon exited (code -1 when a signal ended it)
 * A daemon that cannot exec says why in its log and exits 127. At EOF on stdin (the supervisor is gone)
 * this process exits: daemons still at their gate see their gate close and exit 97 without running
 * anything, so nothing runs that the supervisor did not record; daemons already running go on (they
 * are the lab's, in their own sessions, recorded), and `vnetlab clean` finds them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_FRAME (256 * 1024)
#define MAX_ARGS 512
#define MAX_HELD 4096

struct held {
  long id;
  pid_t pid;
  int gate; /* write end of the daemon's gate pipe; -1 when free */
};

static struct held held[MAX_HELD];
static char frame[MAX_FRAME];
static size_t framed;

static void reply(char type, long a, long b, long c, int fields) {
  char line[96];
  int n = fields == 3 ? snprintf(line, sizeof line, "%c %ld %ld %ld\n", type, a, b, c) : snprintf(line, sizeof line, "%c %ld %ld\n", type, a, b);
  for (int off = 0; off < n;) {
    ssize_t w = write(1, line + off, n - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) exit(0); /* the supervisor is gone */
    off += w;
  }
}

/* The daemon's side of the fork: wait at the gate, then become the daemon. */
static void daemon_child(int gate, const char *in, const char *log, char **argv) {
  setsid();
  /* Nothing of the other daemons' gates: the helper alone may open or close them. */
  for (int i = 0; i < MAX_HELD; i++)
    if (held[i].gate >= 0) close(held[i].gate);
  char go;
  ssize_t n;
  do n = read(gate, &go, 1); while (n < 0 && errno == EINTR);
  if (n != 1) _exit(97); /* the gate closed unopened: the supervisor never recorded us */
  close(gate);
  int out = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  int input = strcmp(in, "-") == 0 ? open("/dev/null", O_RDONLY | O_CLOEXEC) : open(in, O_RDWR | O_CLOEXEC);
  if (out < 0 || input < 0 || dup2(input, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0) {
    if (out >= 0) dprintf(out, "vnetlab-spawner: cannot set up %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  /* As a spawn from node leaves them: default signals, none blocked. */
  signal(SIGPIPE, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  execvp(argv[0], argv);
  dprintf(2, "vnetlab-spawner: cannot run %s: %s\n", argv[0], strerror(errno));
  _exit(127);
}

static void spawn(char *fields, size_t len) {
  char *f[MAX_ARGS + 4];
  int count = 0;
  for (size_t i = 0; i < len && count < MAX_ARGS + 3;) {
    f[count++] = fields + i;
    size_t l = strlen(fields + i);
    if (l == 0) break; /* the empty field ends the frame */
    i += l + 1;
  }
  if (count < 5 || f[count - 1][0] != '\0') return; /* id, stdin, log, argv0, end */
  long id = strtol(f[0], NULL, 10);
  f[count - 1] = NULL;
  int slot = -1;
  for (int i = 0; i < MAX_HELD; i++)
    if (held[i].gate < 0) {
      slot = i;
      break;
    }
  int gate[2];
  if (slot < 0 || pipe2(gate, O_CLOEXEC) < 0) {
    reply('F', id, slot < 0 ? EAGAIN : errno, 0, 2);
    return;
  }
  pid_t pid = fork();
  if (pid < 0) {
    reply('F', id, errno, 0, 2);
    close(gate[0]);
    close(gate[1]);
    return;
  }
  if (pid == 0) {
    close(gate[1]);
    daemon_child(gate[0], f[1], f[2], &f[3]);
  }
  close(gate[0]);
  held[slot] = (struct held){id, pid, gate[1]};
  reply('P', id, pid, 0, 2);
}

static void open_gate(const char *idText) {
  long id = strtol(idText, NULL, 10);
  for (int i = 0; i < MAX_HELD; i++)
    if (held[i].gate >= 0 && held[i].id == id) {
      ssize_t n;
      do n = write(held[i].gate, "g", 1); while (n < 0 && errno == EINTR);
      close(held[i].gate);
      held[i].gate = -1;
      return;
    }
}

/* Each whole frame in the buffer: S and G frames end at an empty field, G's after its id. */
static void handle_frames(void) {
  size_t start = 0;
  for (;;) {
    char *base = frame + start;
    size_t avail = framed - start;
    if (avail < 2) break;
    size_t need;
    if (base[0] == 'G') {
      char *end = memchr(base + 1, '\0', avail - 1);
      if (!end) break;
      need = end - base + 1;
      open_gate(base + 1);
    } else if (base[0] == 'S') {
      /* ends at the first empty field: two NULs in a row after the type byte */
      size_t i = 1;
      while (i + 1 < avail && !(base[i] == '\0' && base[i + 1] == '\0')) i++;
      if (i + 1 >= avail) break;
      need = i + 2;
      spawn(base + 1, need - 1);
    } else {
      exit(2); /* not ours: stop rather than guess */
    }
    start += need;
  }
  memmove(frame, frame + start, framed - start);
  framed -= start;
  if (framed == sizeof frame) exit(2);
}

static void reap(void) {
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    for (int i = 0; i < MAX_HELD; i++)
      if (held[i].gate >= 0 && held[i].pid == pid) {
        close(held[i].gate);
        held[i].gate = -1;
      }
    if (WIFEXITED(status)) reply('X', pid, WEXITSTATUS(status), 0, 3);
    else reply('X', pid, -1, WIFSIGNALED(status) ? WTERMSIG(status) : 0, 3);
  }
}

int main(void) {
  for (int i = 0; i < MAX_HELD; i++) held[i].gate = -1;
  signal(SIGPIPE, SIG_IGN);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, NULL);
  int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) return 1;
  fcntl(0, F_SETFD, FD_CLOEXEC);
  fcntl(1, F_SETFD, FD_CLOEXEC);
  for (;;) {
    struct pollfd p[2] = {{0, POLLIN, 0}, {sfd, POLLIN, 0}};
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    if (p[1].revents) {
      struct signalfd_siginfo info;
      while (read(sfd, &info, sizeof info) == sizeof info) {
      }
      reap();
    }
    if (p[0].revents) {
      ssize_t n = read(0, frame + framed, sizeof frame - framed);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return 0; /* the supervisor is gone; held daemons see their gates close */
      framed += n;
      handle_frames();
    }
  }
}
