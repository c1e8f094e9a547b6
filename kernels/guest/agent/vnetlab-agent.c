/*
 * vnetlab-agent: the guest end of the exec channel (docs/ARCHITECTURE.md, "Exec channel protocol").
 *
 *   vnetlab-agent <tty> <ready-fifo>   serve the protocol on <tty> (the UML serial line ssl0 = /dev/ttyS0)
 *   vnetlab-agent --poweroff           power the guest off now (Debian minbase has no poweroff binary)
 *   vnetlab-agent --console TTY CMD…   run CMD in a new session with TTY as its controlling terminal
 *   vnetlab-agent --spawn CMD…         run CMD in a new session
 *
 * --console and --spawn reset every signal to its default first: the init is a shell, and a shell
 * starts background jobs with SIGINT/SIGQUIT ignored for good, which would make ^C useless on the console.
 *
 * One static binary, built with the host's `cc -static -O2` when an image is built, so the same agent
 * runs in the busybox and the Debian image. Lines are ASCII; payloads are base64. Several commands run at
 * once: each gets its own session (so K and timeouts kill its whole process group) and pipes for
 * stdin/stdout/stderr, all multiplexed with poll(). Every output line is written whole, so lines of
 * different commands never interleave.
 *
 * Readiness: the guest init writes the startup exit code to <ready-fifo>; until then a ping answers `B`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/reboot.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define MAX_CMDS 64
#define MAX_LINE (4 * 1024 * 1024)
#define CHUNK 3072 /* bytes of output per line: 4096 base64 characters */

struct cmd {
  int used;
  long id;
  pid_t pid;     /* 0 once reaped */
  int status;    /* wait status once reaped */
  int out, err;  /* read ends, -1 once closed */
  int in;        /* write end of the child's stdin, -1 once closed */
  int close_in;  /* C received: close stdin once pending input is written */
  char *pending; /* stdin bytes not yet accepted by the pipe */
  size_t pending_len;
  double deadline; /* monotonic seconds; 0 = none */
  int timed_out;
};

static struct cmd cmds[MAX_CMDS];
static int tty_fd = -1;
static int ready_fd = -1;
static int ready_code = -1; /* -1 = still booting */
static int sigchld_pipe[2];

static void default_signals(void) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  for (int sig = 1; sig < NSIG; sig++) signal(sig, SIG_DFL);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Write all of buf to the tty; the tty may accept it piecewise. */
static void write_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        struct pollfd p = {fd, POLLOUT, 0};
        poll(&p, 1, 1000);
        continue;
      }
      return;
    }
    buf += n;
    len -= (size_t)n;
  }
}

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static size_t b64_encode(const unsigned char *in, size_t len, char *out) {
  size_t o = 0, i;
  for (i = 0; i + 2 < len; i += 3) {
    unsigned v = (in[i] << 16) | (in[i + 1] << 8) | in[i + 2];
    out[o++] = b64chars[(v >> 18) & 63];
    out[o++] = b64chars[(v >> 12) & 63];
    out[o++] = b64chars[(v >> 6) & 63];
    out[o++] = b64chars[v & 63];
  }
  if (i < len) {
    unsigned v = in[i] << 16;
    if (i + 1 < len) v |= in[i + 1] << 8;
    out[o++] = b64chars[(v >> 18) & 63];
    out[o++] = b64chars[(v >> 12) & 63];
    out[o++] = i + 1 < len ? b64chars[(v >> 6) & 63] : '=';
    out[o++] = '=';
  }
  return o;
}

static int b64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

/* Decodes in place-compatible: out may equal in. Skips '=' and anything not base64. */
static size_t b64_decode(const char *in, size_t len, unsigned char *out) {
  unsigned acc = 0;
  int bits = 0;
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    int v = b64_value(in[i]);
    if (v < 0) continue;
    acc = (acc << 6) | (unsigned)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (unsigned char)((acc >> bits) & 0xff);
    }
  }
  return o;
}

static void send_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void send_line(const char *fmt, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if (n > (int)sizeof buf - 2) n = sizeof buf - 2;
  buf[n++] = '\n';
  write_all(tty_fd, buf, (size_t)n);
}

static void send_chunk(char kind, long id, const unsigned char *data, size_t len) {
  static char line[64 + CHUNK * 2];
  int head = snprintf(line, 64, "%c %ld ", kind, id);
  size_t n = (size_t)head + b64_encode(data, len, line + head);
  line[n++] = '\n';
  write_all(tty_fd, line, n);
}

static struct cmd *find_cmd(long id) {
  for (int i = 0; i < MAX_CMDS; i++)
    if (cmds[i].used && cmds[i].id == id) return &cmds[i];
  return NULL;
}

static void close_fd(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

/* Reads what the pipe has now; returns 0 at EOF or error, 1 if it may have more later. */
static int drain(struct cmd *c, int *fd, char kind) {
  unsigned char buf[CHUNK];
  for (;;) {
    ssize_t n = read(*fd, buf, sizeof buf);
    if (n > 0) {
      send_chunk(kind, c->id, buf, (size_t)n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return 1;
    close_fd(fd);
    return 0;
  }
}

static void finish(struct cmd *c) {
  /* Output written just before exit is still in the pipes: take it, but don't wait for background
     grandchildren that inherited the pipes (a daemon started with `&` would otherwise hold us forever). */
  if (c->out >= 0) drain(c, &c->out, 'O');
  if (c->err >= 0) drain(c, &c->err, 'E');
  close_fd(&c->out);
  close_fd(&c->err);
  close_fd(&c->in);
  int code;
  if (c->timed_out) code = 124;
  else if (WIFEXITED(c->status)) code = WEXITSTATUS(c->status);
  else if (WIFSIGNALED(c->status)) code = 128 + WTERMSIG(c->status);
  else code = 255;
  send_line("D %ld %d", c->id, code);
  free(c->pending);
  memset(c, 0, sizeof *c);
  c->out = c->err = c->in = -1;
}

/* The lab's environment (machines/<name>/env), which init writes after the agent has started. */
static void load_lab_env(void) {
  FILE *f = fopen("/run/vnetlab/env", "r");
  if (!f) return;
  char buf[4096];
  while (fgets(buf, sizeof buf, f)) {
    buf[strcspn(buf, "\r\n")] = 0;
    char *eq = strchr(buf, '=');
    if (!eq || eq == buf) continue;
    *eq = 0;
    setenv(buf, eq + 1, 1);
  }
  fclose(f);
}

/* SIGKILL to the command's process group. A child that has not reached setsid() yet has no group of
   its own: kill it alone then (it has started nothing else yet). */
static void kill_cmd(struct cmd *c) {
  if (c->pid <= 0) return;
  if (kill(-c->pid, SIGKILL) < 0 && errno == ESRCH) kill(c->pid, SIGKILL);
}

static void set_nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

static void start_cmd(long id, double timeout, const char *b64, size_t b64len) {
  struct cmd *c = NULL;
  if (find_cmd(id)) {
    send_line("E %ld %s", id, "ZHVwbGljYXRlIGNvbW1hbmQgaWQK"); /* "duplicate command id\n" */
    send_line("D %ld 126", id);
    return;
  }
  for (int i = 0; i < MAX_CMDS; i++)
    if (!cmds[i].used) { c = &cmds[i]; break; }
  if (!c) {
    send_line("E %ld %s", id, "dG9vIG1hbnkgY29tbWFuZHMgcnVubmluZwo="); /* "too many commands running\n" */
    send_line("D %ld 126", id);
    return;
  }
  char *command = malloc(b64len + 1);
  size_t clen = b64_decode(b64, b64len, (unsigned char *)command);
  command[clen] = 0;

  int pin[2], pout[2], perr[2];
  if (pipe2(pin, O_CLOEXEC) || pipe2(pout, O_CLOEXEC) || pipe2(perr, O_CLOEXEC)) {
    free(command);
    send_line("D %ld 126", id);
    return;
  }
  pid_t pid = fork();
  if (pid == 0) {
    default_signals();
    setsid();
    load_lab_env();
    dup2(pin[0], 0);
    dup2(pout[1], 1);
    dup2(perr[1], 2);
    if (chdir("/root") != 0 && chdir("/") != 0) _exit(126);
    execl("/bin/sh", "sh", "-c", command, (char *)NULL);
    _exit(127);
  }
  free(command);
  close(pin[0]);
  close(pout[1]);
  close(perr[1]);
  if (pid < 0) {
    close(pin[1]);
    close(pout[0]);
    close(perr[0]);
    send_line("D %ld 126", id);
    return;
  }
  memset(c, 0, sizeof *c);
  c->used = 1;
  c->id = id;
  c->pid = pid;
  c->in = pin[1];
  c->out = pout[0];
  c->err = perr[0];
  set_nonblock(c->in);
  set_nonblock(c->out);
  set_nonblock(c->err);
  c->deadline = timeout > 0 ? now() + timeout : 0;
}

static void flush_stdin(struct cmd *c) {
  while (c->in >= 0 && c->pending_len > 0) {
    ssize_t n = write(c->in, c->pending, c->pending_len);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return;
      /* The command closed its stdin: drop what it will never read. */
      c->pending_len = 0;
      close_fd(&c->in);
      break;
    }
    memmove(c->pending, c->pending + n, c->pending_len - (size_t)n);
    c->pending_len -= (size_t)n;
  }
  if (c->close_in && c->pending_len == 0) close_fd(&c->in);
}

static void handle_line(char *line, size_t len) {
  while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n')) line[--len] = 0;
  if (len < 1) return;
  char kind = line[0];
  char *p = line + 1;
  char *end;
  long id = strtol(p, &end, 10);
  if (end == p) return; /* junk, e.g. an echo before the tty went raw */
  p = end;
  while (*p == ' ') p++;
  struct cmd *c;
  switch (kind) {
  case 'X': {
    double timeout = strtod(p, &end);
    if (end == p) return;
    p = end;
    while (*p == ' ') p++;
    start_cmd(id, timeout, p, strlen(p));
    break;
  }
  case 'I':
    if ((c = find_cmd(id)) && c->in >= 0) {
      size_t add = strlen(p);
      c->pending = realloc(c->pending, c->pending_len + add + 1);
      c->pending_len += b64_decode(p, add, (unsigned char *)c->pending + c->pending_len);
      flush_stdin(c);
    }
    break;
  case 'C':
    if ((c = find_cmd(id))) {
      c->close_in = 1;
      flush_stdin(c);
    }
    break;
  case 'K':
    if ((c = find_cmd(id))) kill_cmd(c);
    break;
  case 'P':
    if (ready_code >= 0) send_line("R %d", ready_code);
    else send_line("B");
    break;
  }
}

static void on_sigchld(int sig) {
  (void)sig;
  int saved = errno;
  if (write(sigchld_pipe[1], "x", 1) < 0) { /* the pipe is full: a wakeup is pending anyway */ }
  errno = saved;
}

static void reap(void) {
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    for (int i = 0; i < MAX_CMDS; i++)
      if (cmds[i].used && cmds[i].pid == pid) {
        cmds[i].pid = 0;
        cmds[i].status = status;
      }
  }
}

static void read_ready_fifo(void) {
  char buf[64];
  ssize_t n = read(ready_fd, buf, sizeof buf - 1);
  if (n <= 0) return;
  buf[n] = 0;
  ready_code = atoi(buf);
  send_line("R %d", ready_code);
}

/* The console shell: own session, the console as controlling tty, a sane size until the host sets one. */
static int run_console(const char *tty, char **cmd) {
  default_signals();
  setsid();
  int fd = open(tty, O_RDWR);
  if (fd < 0) {
    perror(tty);
    return 1;
  }
  ioctl(fd, TIOCSCTTY, 1);
  dup2(fd, 0);
  dup2(fd, 1);
  dup2(fd, 2);
  if (fd > 2) close(fd);
  struct winsize ws;
  if (ioctl(0, TIOCGWINSZ, &ws) == 0 && (ws.ws_row == 0 || ws.ws_col == 0)) {
    ws.ws_row = 24;
    ws.ws_col = 80;
    ioctl(0, TIOCSWINSZ, &ws);
  }
  if (chdir("/root") != 0 && chdir("/") != 0) return 1;
  execv(cmd[0], cmd);
  perror(cmd[0]);
  return 127;
}

int main(int argc, char **argv) {
  if (argc >= 4 && strcmp(argv[1], "--console") == 0) return run_console(argv[2], argv + 3);
  if (argc >= 3 && strcmp(argv[1], "--spawn") == 0) {
    default_signals();
    setsid();
    execvp(argv[2], argv + 2);
    perror(argv[2]);
    return 127;
  }
  if (argc == 2 && strcmp(argv[1], "--poweroff") == 0) {
    sync();
    reboot(RB_POWER_OFF);
    perror("reboot");
    return 1;
  }
  if (argc != 3) {
    fprintf(stderr, "usage: vnetlab-agent <tty> <ready-fifo> | --poweroff\n");
    return 2;
  }
  tty_fd = open(argv[1], O_RDWR | O_NOCTTY);
  if (tty_fd < 0) {
    perror(argv[1]);
    return 1;
  }
  struct termios t;
  if (tcgetattr(tty_fd, &t) == 0) {
    cfmakeraw(&t);
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    tcsetattr(tty_fd, TCSANOW, &t);
  }
  /* What the host sent before raw mode (pings) is read and acknowledged like the rest: the host counts it. */
  ready_fd = open(argv[2], O_RDWR | O_NONBLOCK);
  if (pipe2(sigchld_pipe, O_CLOEXEC | O_NONBLOCK)) return 1;
  fcntl(tty_fd, F_SETFD, FD_CLOEXEC);
  if (ready_fd >= 0) fcntl(ready_fd, F_SETFD, FD_CLOEXEC);
  signal(SIGPIPE, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  struct sigaction sa = {0};
  sa.sa_handler = on_sigchld;
  sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
  sigaction(SIGCHLD, &sa, NULL);
  for (int i = 0; i < MAX_CMDS; i++) cmds[i].out = cmds[i].err = cmds[i].in = -1;
  send_line("B");

  char *line = malloc(MAX_LINE);
  size_t line_len = 0;
  for (;;) {
    struct pollfd fds[3 + MAX_CMDS * 3];
    struct cmd *owner[3 + MAX_CMDS * 3];
    char kinds[3 + MAX_CMDS * 3];
    int n = 0;
    fds[n] = (struct pollfd){tty_fd, POLLIN, 0}; owner[n] = NULL; kinds[n++] = 't';
    fds[n] = (struct pollfd){sigchld_pipe[0], POLLIN, 0}; owner[n] = NULL; kinds[n++] = 's';
    if (ready_fd >= 0) { fds[n] = (struct pollfd){ready_fd, POLLIN, 0}; owner[n] = NULL; kinds[n++] = 'r'; }
    double next_deadline = 0;
    for (int i = 0; i < MAX_CMDS; i++) {
      struct cmd *c = &cmds[i];
      if (!c->used) continue;
      if (c->out >= 0) { fds[n] = (struct pollfd){c->out, POLLIN, 0}; owner[n] = c; kinds[n++] = 'O'; }
      if (c->err >= 0) { fds[n] = (struct pollfd){c->err, POLLIN, 0}; owner[n] = c; kinds[n++] = 'E'; }
      if (c->in >= 0 && c->pending_len > 0) { fds[n] = (struct pollfd){c->in, POLLOUT, 0}; owner[n] = c; kinds[n++] = 'I'; }
      if (c->deadline > 0 && !c->timed_out && (next_deadline == 0 || c->deadline < next_deadline)) next_deadline = c->deadline;
    }
    int wait_ms = -1;
    if (next_deadline > 0) {
      double left = next_deadline - now();
      wait_ms = left <= 0 ? 0 : (int)(left * 1000) + 1;
    }
    int r = poll(fds, (nfds_t)n, wait_ms);
    if (r < 0 && errno != EINTR) return 1;
    for (int k = 0; r > 0 && k < n; k++) {
      if (!fds[k].revents) continue;
      struct cmd *c = owner[k];
      switch (kinds[k]) {
      case 't': {
        ssize_t got = read(tty_fd, line + line_len, MAX_LINE - line_len - 1);
        if (got <= 0) {
          if (got < 0 && (errno == EINTR || errno == EAGAIN)) break;
          usleep(100000); /* hang-up on the serial line: keep serving, the host may reopen */
          break;
        }
        /* Flow control: the host keeps only a little unacknowledged data in flight, because UML's serial
           line stops reading for good once the guest tty throttles (n_tty's buffer is 4 KB). */
        send_line("A %zd", got);
        line_len += (size_t)got;
        size_t start = 0;
        for (size_t i = 0; i < line_len; i++)
          if (line[i] == '\n') {
            line[i] = 0;
            handle_line(line + start, i - start);
            start = i + 1;
          }
        memmove(line, line + start, line_len - start);
        line_len -= start;
        if (line_len >= MAX_LINE - 1) line_len = 0; /* an absurd line: drop it */
        break;
      }
      case 's': {
        char buf[64];
        while (read(sigchld_pipe[0], buf, sizeof buf) > 0) {}
        break;
      }
      case 'r': read_ready_fifo(); break;
      case 'O': if (c->used) drain(c, &c->out, 'O'); break;
      case 'E': if (c->used) drain(c, &c->err, 'E'); break;
      case 'I': if (c->used) flush_stdin(c); break;
      }
    }
    reap();
    double t = now();
    for (int i = 0; i < MAX_CMDS; i++) {
      struct cmd *c = &cmds[i];
      if (!c->used) continue;
      if (c->pid > 0 && c->deadline > 0 && !c->timed_out && t >= c->deadline) {
        c->timed_out = 1;
        kill_cmd(c);
      }
      /* Done when the process is reaped and its pipes are at EOF — or it is reaped and a background
         grandchild keeps the pipes open (finish() then takes what is there and stops waiting). */
      if (c->pid == 0) finish(c);
    }
  }
}
