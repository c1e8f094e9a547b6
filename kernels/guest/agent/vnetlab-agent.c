/*
 * vnetlab-agent: the guest's init and the guest end of the exec channel (docs/ARCHITECTURE.md, "Exec
 * channel protocol").
 *
 *   /sbin/vnetlab-init                 PID 1 (a symlink to this binary; the kernel's init=): the early boot
 *                                      (boot_guest), then for good: the exec channel on the UML serial
 *                                      line ssl0 (/dev/ttyS0), the lab's startup and exec scripts, the
 *                                      console's shell on a key, reaping, the shutdown (see --init below)
 *   vnetlab-agent --pty ROWS COLS CMD… run CMD on a new pty (an extra console, run as an exec command):
 *                                      says `pts /dev/pts/N` on stderr, then relays stdin to the pty
 *                                      and the pty to stdout until CMD ends
 *   vnetlab-agent --winsize PTS ROWS COLS  resize that pty (its shell gets SIGWINCH)
 *   vnetlab-agent --carrier IF on|off  say whether IF's cable is plugged (its operational state, below)
 *
 * Every process PID 1 starts gets default signals first (PID 1 ignores SIGHUP and SIGPIPE, and catches
 * the shutdown signals).
 *
 * One static binary, built with the host's `cc -static -O2` when an image is built, so the same agent
 * runs in the busybox and the Debian image. Lines are ASCII; payloads are base64. Several commands run at
 * once: each gets its own session (so K and timeouts kill its whole process group) and pipes for
 * stdin/stdout/stderr, all multiplexed with poll(). Every output line is written whole, so lines of
 * different commands never interleave.
 *
 * Readiness: `R <startup exit code>` once the startup script has ended; until then a ping answers `B`.
 *
 * Pooled guests (kernel argument `vnl_pool=1`, src/main/runtime/pool/): the boot stops after the kernel
 * filesystems, says `W` on the channel and waits for its identity, `N <base64 of "vnl_name=… vnl_vec=…">`,
 * sent once the host has hot-plugged the machine's NICs and lab-fs; then the boot goes on as for a guest
 * booted with those arguments. EOF on the channel while waiting means the pool's owner died: power off.
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
#include <dirent.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <linux/rtnetlink.h>
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
static int ready_code = -1; /* -1 = still booting */
static int sigchld_pipe[2];
/* `S <id>`: the link watch the serving agent runs itself (links_start below); -1 when none. */
static int links_fd = -1;
static long links_id = -1;
static void links_start(long id);
static void links_changed(void);
static void links_stop(int code);
static void ipv6_now(void);

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

/* The serial line carries the protocol byte for byte: no echo, no line editing, no CR/LF mapping. */
static void make_raw(int fd) {
  struct termios t;
  if (tcgetattr(fd, &t) == 0) {
    cfmakeraw(&t);
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    tcsetattr(fd, TCSANOW, &t);
  }
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

/* Reads what the pipe has now, at most `chunks` reads (0: no bound); returns 0 at EOF or error, 1 if
   it may have more later. The main loop bounds it: a command that writes faster than the serial line
   carries it (`yes` on an extra console) must not keep the agent from reading the host's input (^C, K). */
static int drain(struct cmd *c, int *fd, char kind, int chunks) {
  unsigned char buf[CHUNK];
  for (int k = 0; chunks == 0 || k < chunks; k++) {
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
  return 1;
}

static void finish(struct cmd *c) {
  /* Output written just before exit is still in the pipes: take it, but don't wait for background
     grandchildren that inherited the pipes (a daemon started with `&` would otherwise hold us forever). */
  if (c->out >= 0) drain(c, &c->out, 'O', 64);
  if (c->err >= 0) drain(c, &c->err, 'E', 64);
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
static void load_lab_env_from(const char *path) {
  FILE *f = fopen(path, "r");
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
static void load_lab_env(void) { load_lab_env_from("/run/vnetlab/env"); }

/* The grader's tool set on the read-only lab-fs (src/main/guest/labfs.ts): a `T` command runs in its
   static busybox, never in the guest's /bin/sh, with only the tools' applet links and then the standard
   folders in PATH. busybox sh runs its own applets before looking at PATH, so a planted `ip` or `ping`
   in the guest is not what a check runs; tools busybox lacks (vtysh, dig, curl) still come from the
   guest. The environment is the lab's, read from the lab-fs, not the guest's copy in /run/vnetlab. */
/* this machine's folder on the lab-fs, found by the boot */
static char boot_machine[512] = "";
#define TOOLS_BUSYBOX "/run/vnetlab/labfs/tools/busybox"
#define TOOLS_PATH "/run/vnetlab/labfs/tools/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
static void exec_with_tools(const char *command) {
  clearenv();
  if (boot_machine[0]) {
    char env[600];
    snprintf(env, sizeof env, "%s/env", boot_machine);
    load_lab_env_from(env);
  }
  setenv("PATH", TOOLS_PATH, 1);
  setenv("HOME", "/root", 1);
  unsetenv("ENV");
  if (access(TOOLS_BUSYBOX, X_OK) != 0) {
    static const char msg[] = "vnetlab: the lab-fs has no tool set (" TOOLS_BUSYBOX "); rebuild the lab-fs with a static busybox on the host\n";
    if (write(2, msg, sizeof msg - 1) < 0) { /* nothing to do */ }
    _exit(127);
  }
  execl(TOOLS_BUSYBOX, "sh", "-c", command, (char *)NULL);
  _exit(127);
}

/* SIGKILL to the command's process group. A child that has not reached setsid() yet has no group of
   its own: kill it alone then (it has started nothing else yet). */
static void kill_cmd(struct cmd *c) {
  if (c->pid <= 0) return;
  if (kill(-c->pid, SIGKILL) < 0 && errno == ESRCH) kill(c->pid, SIGKILL);
}

static void set_nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

static void start_cmd(long id, double timeout, const char *b64, size_t b64len, int tools) {
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
    if (tools) exec_with_tools(command);
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
  case 'X':
  case 'T': {
    double timeout = strtod(p, &end);
    if (end == p) return;
    p = end;
    while (*p == ' ') p++;
    start_cmd(id, timeout, p, strlen(p), kind == 'T');
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
    else if (id == links_id) links_stop(128 + SIGKILL);
    break;
  case 'S':
    links_start(id);
    break;
  case '6':
    ipv6_now(); /* nothing to answer: lines are handled in order, so a command sent after this finds IPv6 */
    break;
  case 'P':
    if (ready_code >= 0) send_line("R %d", ready_code);
    else send_line("B");
    break;
  case 'H':
    /* A graceful stop, asked on the channel: what mconsole's `cad` does (a signal to the init, which runs
       the shutdown), without a host process per guest to send it. `H` first: the host then knows. */
    send_line("H");
    /* The halt ends this process within moments: the answer must have left the serial line by then. */
    tcdrain(tty_fd);
    kill(1, SIGTERM);
    break;
  }
}

static void on_sigchld(int sig) {
  (void)sig;
  int saved = errno;
  if (write(sigchld_pipe[1], "x", 1) < 0) { /* the pipe is full: a wakeup is pending anyway */ }
  errno = saved;
}

static void init_reaped(pid_t pid, int status);

/* Every child that ended: a command's, the init's own (startup, console, shutdown) and every orphan. */
static void reap(void) {
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    for (int i = 0; i < MAX_CMDS; i++)
      if (cmds[i].used && cmds[i].pid == pid) {
        cmds[i].pid = 0;
        cmds[i].status = status;
      }
    init_reaped(pid, status);
  }
}



/* ---- the early boot: what a shell init did with ~60 forks of busybox/dash tools, with system calls -----
 * A fork in UML costs tens of milliseconds (every page table is copied through ptrace), so the init's
 * early boot is system calls: kernel filesystems, hostname, the lab-fs and its binds, the lab's files on
 * a disk's first boot, sysctls, links up with their addresses, the lab scripts with CRLF stripped. It
 * writes `<phase> <uptime>` lines to /run/vnetlab/profile (vnetlab start --profile). */

static char boot_name[128] = "";
static char boot_date[64] = "";

static void boot_mark(const char *phase) {
  char up[64] = "";
  int fd = open("/proc/uptime", O_RDONLY);
  if (fd >= 0) {
    ssize_t n = read(fd, up, sizeof up - 1);
    close(fd);
    up[n > 0 ? n : 0] = 0;
    char *sp = strchr(up, ' ');
    if (sp) *sp = 0;
  }
  FILE *f = fopen("/run/vnetlab/profile", "a");
  if (f) {
    fprintf(f, "%s %s\n", phase, up);
    fclose(f);
  }
}

static void say(const char *fmt, ...) {
  FILE *f = fopen("/dev/console", "w");
  if (!f) return;
  va_list ap;
  va_start(ap, fmt);
  fputs("vnetlab: ", f);
  vfprintf(f, fmt, ap);
  fputc('\n', f);
  va_end(ap);
  fclose(f);
}

static int write_text(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return -1;
  size_t len = strlen(text);
  ssize_t n = write(fd, text, len);
  int ok = n == (ssize_t)len;
  if (close(fd) != 0) ok = 0;
  return ok ? 0 : -1;
}

/* Reads a whole (small) file, NUL-terminated; NULL when it cannot be read. */
static char *read_text(const char *path, size_t *len_out) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (len + 1 >= cap) buf = realloc(buf, cap *= 2);
    ssize_t n = read(fd, buf + len, cap - len - 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += (size_t)n;
  }
  close(fd);
  buf[len] = 0;
  if (len_out) *len_out = len;
  return buf;
}

static int is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void mkdir_p(const char *path, mode_t mode) {
  char tmp[512];
  snprintf(tmp, sizeof tmp, "%s", path);
  for (char *p = tmp + 1; *p; p++)
    if (*p == '/') {
      *p = 0;
      mkdir(tmp, mode);
      *p = '/';
    }
  mkdir(tmp, mode);
}

/* Copy a lab script with CR removed (labs written on Windows are common); 0 when it exists. */
static int copy_script(const char *from, const char *to) {
  size_t len;
  char *text = read_text(from, &len);
  if (!text) return -1;
  size_t o = 0;
  for (size_t i = 0; i < len; i++)
    if (text[i] != '\r') text[o++] = text[i];
  text[o] = 0;
  int r = write_text(to, text);
  free(text);
  return r;
}

/* ---- carrier ----------------------------------------------------------------------------------------
 * UML's NIC driver never reports a carrier (no netif_carrier_on/off, no ndo_change_carrier: `ip link set
 * ethN carrier off` is refused), so `ip link` shows `state UNKNOWN` whatever happens to the cable. The
 * kernel lets user space set a link's RFC 2863 operational state (IFLA_OPERSTATE, as wpa_supplicant
 * does): UP when the cable is plugged, DORMANT when it is not. `ip link` then shows `state UP`, or
 * `NO-CARRIER … state DORMANT`; IFF_RUNNING follows it, so FRR (link-detect) sees the link go down as it
 * would on real hardware. LOWER_UP stays: the driver has no carrier to drop. The state survives
 * `ip link set ethN down/up`. Returns 0 when the kernel took it. */
#define VNL_IFLA_OPERSTATE 16
#define VNL_IF_OPER_DORMANT 5
#define VNL_IF_OPER_UP 6

static int set_carrier(const char *dev, int on) {
  unsigned index = if_nametoindex(dev);
  if (index == 0) return -1;
  int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (s < 0) return -1;
  struct {
    struct nlmsghdr nh;
    struct ifinfomsg ifi;
    struct rtattr rta;
    unsigned char state;
    unsigned char pad[3];
  } req;
  memset(&req, 0, sizeof req);
  req.nh.nlmsg_len = sizeof req;
  req.nh.nlmsg_type = RTM_SETLINK;
  req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  req.nh.nlmsg_seq = 1;
  req.ifi.ifi_family = AF_UNSPEC;
  req.ifi.ifi_index = (int)index;
  req.rta.rta_type = VNL_IFLA_OPERSTATE;
  req.rta.rta_len = RTA_LENGTH(1);
  req.state = on ? VNL_IF_OPER_UP : VNL_IF_OPER_DORMANT;
  int result = -1;
  if (send(s, &req, sizeof req, 0) == (ssize_t)sizeof req) {
    char reply[512];
    ssize_t n = recv(s, reply, sizeof reply, 0);
    struct nlmsghdr *h = (struct nlmsghdr *)reply;
    if (n >= (ssize_t)(sizeof *h + sizeof(int)) && h->nlmsg_type == NLMSG_ERROR) {
      int err = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
      if (err == 0) result = 0;
      else errno = -err;
    }
  }
  close(s);
  return result;
}

static void link_up(const char *dev) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, IFNAMSIZ, "%s", dev);
  if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0 && !(ifr.ifr_flags & IFF_UP)) {
    ifr.ifr_flags |= IFF_UP;
    ioctl(s, SIOCSIFFLAGS, &ifr);
  }
  close(s);
}

/* A sysctl handler may report fewer bytes than it took: IPv6's `forwarding` answers 1 for "1\n", and
   write_text() took that for a failure (Netkit routers never got IPv6 forwarding). One write that
   took anything is a success, as sysctl(8) sees it. */
static int write_sysctl(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n;
  do n = write(fd, text, strlen(text)); while (n < 0 && errno == EINTR);
  close(fd);
  return n > 0 ? 0 : -1;
}

/* `key=value` lines, as the init's apply_sysctl did: key without blanks, dots → slashes; value without leading blanks. */
/* Which keys of a sysctl file to apply: all of them, all but net.ipv6 (IPv6 comes later), or only those. */
enum sysctl_keys { ALL_KEYS, NOT_IPV6_KEYS, IPV6_KEYS };

static void apply_sysctl(const char *path, enum sysctl_keys which) {
  char *text = read_text(path, NULL);
  if (!text) return;
  for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
    size_t n = strlen(line);
    char *w = line;
    for (size_t i = 0; i < n; i++)
      if (line[i] != '\r') *w++ = line[i];
    *w = 0;
    if (!*line || *line == '#' || *line == ';') continue;
    char *eq = strchr(line, '=');
    char key[256] = "", *k = key;
    for (char *c = line; *c && c != eq && k < key + sizeof key - 1; c++)
      if (*c != ' ' && *c != '\t') *k++ = *c == '.' ? '/' : *c;
    *k = 0;
    int ipv6_key = !strncmp(key, "net/ipv6/", 9);
    if ((which == NOT_IPV6_KEYS && ipv6_key) || (which == IPV6_KEYS && !ipv6_key)) continue;
    const char *value = eq ? eq + 1 : line;
    while (*value == ' ' || *value == '\t') value++;
    char file[320], text_value[1024];
    snprintf(file, sizeof file, "/proc/sys/%s", key);
    snprintf(text_value, sizeof text_value, "%s\n", value);
    if (write_sysctl(file, text_value) != 0) {
      for (k = key; *k; k++)
        if (*k == '/') *k = '.';
      say("sysctl %s: cannot set it to %s", key, value);
    }
  }
  free(text);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Names in a folder matching prefix…suffix, sorted as a shell glob would. */
static int list_dir(const char *dir, const char *prefix, const char *suffix, char ***out) {
  DIR *d = opendir(dir);
  int n = 0;
  *out = NULL;
  if (!d) return 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t len = strlen(e->d_name), sl = strlen(suffix);
    if (strncmp(e->d_name, prefix, strlen(prefix)) || len < sl || strcmp(e->d_name + len - sl, suffix) || e->d_name[0] == '.') continue;
    *out = realloc(*out, sizeof(char *) * (size_t)(n + 1));
    (*out)[n++] = strdup(e->d_name);
  }
  closedir(d);
  if (n) qsort(*out, (size_t)n, sizeof(char *), cmp_str);
  return n;
}

static int run_wait(char *const cmd[]) {
  pid_t pid = fork();
  if (pid == 0) {
    execvp(cmd[0], cmd);
    _exit(127);
  }
  int status = 0;
  if (pid < 0) return -1;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ---- pooled guests: wait for the identity (see the top of this file) -------------------------------- */

/* Power off at once: nothing of a pooled guest is worth keeping, and nobody owns it any more. */
static void poweroff_now(void) {
  sync();
  reboot(RB_POWER_OFF);
  _exit(1);
}

/* Serves the channel on `tty` until `N <base64>` arrives; its decoded text goes to `claim`. Every line is
   acknowledged (`A n`) as the main loop does, so the host's flow control counts stay right. */
static void wait_for_claim(const char *tty, char *claim, size_t size) {
  tty_fd = open(tty, O_RDWR | O_NOCTTY);
  if (tty_fd < 0) poweroff_now();
  make_raw(tty_fd);
  send_line("W");
  static char line[8192];
  size_t len = 0;
  for (;;) {
    char c;
    /* One byte at a time: nothing after the claim line may be taken from the main loop. */
    ssize_t n = read(tty_fd, &c, 1);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) poweroff_now(); /* EOF / hang-up: the pool's owner is gone */
    if (c != '\n') {
      if (len < sizeof line - 1) line[len++] = c;
      continue;
    }
    send_line("A %zu", len + 1);
    line[len] = 0;
    if (len > 2 && line[0] == 'N' && line[1] == ' ') {
      size_t got = b64_decode(line + 2, len - 2, (unsigned char *)claim);
      claim[got < size ? got : size - 1] = 0;
      return;
    }
    if (line[0] == 'P') send_line("W");
    len = 0;
  }
}

/* A hot-plugged vector NIC is vecN; labs say ethN. Renamed while still down, as the init does at boot. */
static void rename_vector_nics(const char *list) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return;
  for (const char *p = list; *p;) {
    char *end;
    long n = strtol(p, &end, 10);
    if (end == p) break;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, IFNAMSIZ, "vec%ld", n);
    snprintf(ifr.ifr_newname, IFNAMSIZ, "eth%ld", n);
    if (ioctl(s, SIOCSIFNAME, &ifr) != 0) say("cannot rename vec%ld to eth%ld", n, n);
    p = *end == ',' ? end + 1 : end;
  }
  close(s);
}

/* ---- placing the lab's files onto / (first boot of a disk) ---------------------------------------------
 * A tree of the lab-fs (the machine's root/, and for Netkit labs the shared folder before it) is merged
 * onto / as Netkit did, except that folders of the image that are symlinks are followed: on the debian
 * image /bin, /sbin and /lib are links into /usr (merged /usr), where `cp -a root/. /` refused the whole
 * bin/ folder ("cannot overwrite non-directory"); here bin/tool lands in /usr/bin/tool and runs as
 * /bin/tool. A file that still cannot be placed (a folder of the image where the lab has a file, a file
 * where it has a folder, /proc, a read-only mount…) is logged in the startup log and listed in
 * /run/vnetlab/unplaced as `<source in the lab-fs>\t<guest path>\t<why>` lines, which `vnetlab start`
 * reads and reports. Only folders, regular files and symlinks exist in a lab-fs (its builder resolves
 * links); the lab-fs is root's, so owners and modes are kept as they are there. */
#define MAX_UNPLACED 200
static int unplaced_count = 0;

static void unplaced(const char *src, const char *dst, const char *why) {
  if (++unplaced_count > MAX_UNPLACED) return;
  FILE *f = fopen("/var/log/vnetlab-startup.log", "a");
  if (f) {
    fprintf(f, "vnetlab: cannot place %s at %s: %s\n", src, dst, why);
    fclose(f);
  }
  f = fopen("/run/vnetlab/unplaced", "a");
  if (f) {
    fprintf(f, "%s\t%s\t%s\n", src, dst, unplaced_count == MAX_UNPLACED ? "(and more: see /var/log/vnetlab-startup.log)" : why);
    fclose(f);
  }
}

static int copy_regular(const char *src, const struct stat *st, const char *dst) {
  int in = open(src, O_RDONLY | O_CLOEXEC);
  if (in < 0) return -1;
  int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (out < 0) {
    int saved = errno;
    close(in);
    errno = saved;
    return -1;
  }
  char buf[65536];
  int ok = 1;
  for (;;) {
    ssize_t n = read(in, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) ok = 0;
    if (n <= 0) break;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(out, buf + off, (size_t)(n - off));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        ok = 0;
        break;
      }
      off += w;
    }
    if (!ok) break;
  }
  int saved = errno;
  /* Owner before mode: chown clears set-uid bits. */
  if (ok && (fchown(out, st->st_uid, st->st_gid) != 0 || fchmod(out, st->st_mode & 07777) != 0)) ok = 0, saved = errno;
  if (ok) {
    struct timespec times[2] = {st->st_atim, st->st_mtim};
    futimens(out, times);
  }
  if (close(out) != 0 && ok) ok = 0, saved = errno;
  close(in);
  errno = saved;
  return ok ? 0 : -1;
}

/* Merges folder `src` into folder `dst` (which may be reached through symlinks of the image). */
static void place_tree(const char *src, const char *dst) {
  DIR *d = opendir(src);
  if (!d) {
    unplaced(src, dst, strerror(errno));
    return;
  }
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !strcmp(e->d_name, "lost+found")) continue;
    char from[4096], to[4096];
    if (snprintf(from, sizeof from, "%s/%s", src, e->d_name) >= (int)sizeof from || snprintf(to, sizeof to, "%s/%s", strcmp(dst, "/") ? dst : "", e->d_name) >= (int)sizeof to) {
      unplaced(src, dst, "path too long");
      continue;
    }
    struct stat s, t, tl;
    if (lstat(from, &s) != 0) continue;
    int exists = stat(to, &t) == 0;      /* through symlinks: /bin → usr/bin is a folder */
    int link_exists = lstat(to, &tl) == 0;
    if (S_ISDIR(s.st_mode)) {
      if (exists && !S_ISDIR(t.st_mode)) {
        unplaced(from, to, "the image has a file there, not a folder");
        continue;
      }
      if (!exists) {
        if (link_exists) { /* a dangling symlink of the image where the lab has a folder */
          unplaced(from, to, "the image has a symlink there that leads nowhere");
          continue;
        }
        if (mkdir(to, s.st_mode & 07777) != 0) {
          unplaced(from, to, strerror(errno));
          continue;
        }
        if (chown(to, s.st_uid, s.st_gid) != 0 || chmod(to, s.st_mode & 07777) != 0) { /* best effort, as cp -a */ }
      }
      place_tree(from, to);
    } else if (S_ISREG(s.st_mode) || S_ISLNK(s.st_mode)) {
      if (exists && S_ISDIR(t.st_mode)) {
        unplaced(from, to, "the image has a folder there, not a file");
        continue;
      }
      /* A symlink of the image where the lab has a file (or a link) is replaced, as cp --remove-destination does. */
      if (link_exists && S_ISLNK(tl.st_mode) && unlink(to) != 0) {
        unplaced(from, to, strerror(errno));
        continue;
      }
      if (S_ISREG(s.st_mode)) {
        if (copy_regular(from, &s, to) != 0) unplaced(from, to, strerror(errno));
      } else {
        char target[4096];
        ssize_t n = readlink(from, target, sizeof target - 1);
        if (n < 0) continue;
        target[n] = 0;
        if (link_exists && !S_ISLNK(tl.st_mode)) unlink(to);
        if (symlink(target, to) != 0) unplaced(from, to, strerror(errno));
        else if (lchown(to, s.st_uid, s.st_gid) != 0) { /* best effort */ }
      }
    }
    /* Sockets, FIFOs and devices are never in a lab-fs. */
  }
  closedir(d);
}

/* ---- IPv6, and the lab's addresses, without a process each ----------------------------------------
 * A fork and exec cost ~20 ms of CPU in UML: at 500 guests that is what separates a lab's start from
 * bare boots. `modprobe ipv6` and one `ip addr add` per address were the init's last forks before it
 * is ready; both are system calls here, with the tools as the fallback. */

/* finit_module of one module file; a module already there counts as loaded. */
static int load_module_file(const char *path, const char *params) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  long r = syscall(SYS_finit_module, fd, params, 0);
  int e = errno;
  close(fd);
  if (r == 0 || e == EEXIST) return 0;
  errno = e;
  return -1;
}

/* A modules.dep path (relative to the kernel's module folder, or absolute in old files) as a file path. */
static void module_path(char *out, size_t size, const char *base, const char *dep) {
  if (dep[0] == '/') snprintf(out, size, "%s", dep);
  else snprintf(out, size, "%s/%s", base, dep);
}

/* `modprobe ipv6` as busybox's and kmod's do it: the modules it needs (modules.dep, deepest last,
   loaded first), then ipv6 with its `ipv6.x=y` kernel arguments. A modprobe.d file that speaks of ipv6
   (options, blacklist, install) is modprobe's to apply: then 0 is not returned and the caller runs it. */
static int load_ipv6(const char *cmdline) {
  static const char *confs[] = {"/etc/modprobe.d", "/lib/modprobe.d", "/run/modprobe.d"};
  for (int c = 0; c < 3; c++) {
    char **files;
    int n = list_dir(confs[c], "", "", &files);
    for (int i = 0; i < n; i++) {
      char path[512];
      snprintf(path, sizeof path, "%s/%s", confs[c], files[i]);
      char *text = read_text(path, NULL);
      int mentions = text && strstr(text, "ipv6");
      free(text);
      if (mentions) return -1;
    }
  }
  struct utsname u;
  if (uname(&u) != 0) return -1;
  char base[320], path[1024];
  snprintf(base, sizeof base, "/lib/modules/%s", u.release);
  snprintf(path, sizeof path, "%s/modules.dep", base);
  char *dep = read_text(path, NULL);
  if (!dep) return -1;
  char *line = NULL;
  for (char *l = dep; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
    char *colon = strchr(l, ':'), *eol = strchr(l, '\n');
    if (!colon || (eol && colon > eol)) continue;
    if ((colon - l == 7 && !strncmp(l, "ipv6.ko", 7)) || (colon - l > 8 && !strncmp(colon - 8, "/ipv6.ko", 8))) {
      line = l;
      if (eol) *eol = 0;
      break;
    }
  }
  if (!line) {
    free(dep);
    return -1;
  }
  char *colon = strchr(line, ':');
  *colon = 0;
  char *deps[64];
  int nd = 0;
  for (char *d = strtok(colon + 1, " \t"); d && nd < 64; d = strtok(NULL, " \t")) deps[nd++] = d;
  int rc = 0;
  for (int i = nd - 1; i >= 0 && rc == 0; i--) {
    module_path(path, sizeof path, base, deps[i]);
    rc = load_module_file(path, "");
  }
  if (rc == 0) {
    char params[1024] = "";
    size_t used = 0;
    const char *w = cmdline;
    while (w && *w) {
      while (*w == ' ' || *w == '\n') w++;
      size_t len = strcspn(w, " \n");
      if (len > 5 && !strncmp(w, "ipv6.", 5) && used + len < sizeof params - 1) used += (size_t)snprintf(params + used, sizeof params - used, "%s%.*s", used ? " " : "", (int)len - 5, w + 5);
      w += len;
    }
    module_path(path, sizeof path, base, line);
    rc = load_module_file(path, params);
  }
  free(dep);
  return rc;
}

/* One RTM_NEWADDR, as `ip addr add ADDR[/LEN] dev DEV` sends it (no broadcast unless asked: `ip`'s default).
   0, or the kernel's errno. */
static int add_address(const char *dev, const char *text) {
  char addr[64];
  snprintf(addr, sizeof addr, "%s", text);
  char *slash = strchr(addr, '/');
  if (slash) *slash = 0;
  unsigned char bytes[16];
  int family = strchr(addr, ':') ? AF_INET6 : AF_INET;
  if (inet_pton(family, addr, bytes) != 1) return EINVAL;
  int size = family == AF_INET6 ? 16 : 4;
  char *end = NULL;
  long prefix = slash ? strtol(slash + 1, &end, 10) : size * 8;
  if ((slash && (!*(slash + 1) || *end)) || prefix < 0 || prefix > size * 8) return EINVAL;
  unsigned index = if_nametoindex(dev);
  if (index == 0) return ENODEV;
  struct {
    struct nlmsghdr nh;
    struct ifaddrmsg ifa;
    char attrs[64];
  } req;
  memset(&req, 0, sizeof req);
  req.nh.nlmsg_len = NLMSG_LENGTH(sizeof req.ifa);
  req.nh.nlmsg_type = RTM_NEWADDR;
  req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
  req.nh.nlmsg_seq = 1;
  req.ifa.ifa_family = (unsigned char)family;
  req.ifa.ifa_prefixlen = (unsigned char)prefix;
  req.ifa.ifa_index = index;
  unsigned short types[2] = {IFA_LOCAL, IFA_ADDRESS};
  for (int i = 0; i < 2; i++) {
    struct rtattr *rta = (struct rtattr *)((char *)&req + NLMSG_ALIGN(req.nh.nlmsg_len));
    rta->rta_type = types[i];
    rta->rta_len = (unsigned short)RTA_LENGTH(size);
    memcpy(RTA_DATA(rta), bytes, (size_t)size);
    req.nh.nlmsg_len = NLMSG_ALIGN(req.nh.nlmsg_len) + RTA_ALIGN(rta->rta_len);
  }
  int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (s < 0) return errno;
  int err = EIO;
  if (send(s, &req, req.nh.nlmsg_len, 0) == (ssize_t)req.nh.nlmsg_len) {
    char reply[512];
    ssize_t n = recv(s, reply, sizeof reply, 0);
    struct nlmsghdr *h = (struct nlmsghdr *)reply;
    if (n >= (ssize_t)(sizeof *h + sizeof(int)) && h->nlmsg_type == NLMSG_ERROR) err = -((struct nlmsgerr *)NLMSG_DATA(h))->error;
  }
  close(s);
  return err;
}

/* /run/vnetlab/interfaces (`eth0 10.0.0.1/24 2001:db8::1/64` per line, from lab.yaml), as the init's loop
   did: a failure goes to the console and to the startup log, and the boot goes on. */
static void add_lab_addresses(void) {
  char *text = read_text("/run/vnetlab/interfaces", NULL);
  if (!text) return;
  for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
    char *save = NULL;
    char *dev = strtok_r(line, " \t", &save);
    if (!dev || *dev == '#') continue;
    for (char *addr = strtok_r(NULL, " \t", &save); addr; addr = strtok_r(NULL, " \t", &save)) {
      int err = add_address(dev, addr);
      if (!err) continue;
      FILE *log = fopen("/var/log/vnetlab-startup.log", "a");
      if (log) {
        fprintf(log, "ip addr add %s dev %s: %s\n", addr, dev, strerror(err));
        fclose(log);
      }
      say("cannot add %s to %s (see /var/log/vnetlab-startup.log)", addr, dev);
    }
  }
  free(text);
}

static void boot_sysctl(enum sysctl_keys which);

/* 1 while IPv6 waits for the host's `6` (a lab whose files never mention IPv6: see ipv6_at_boot). */
static int ipv6_later = 0;

/* IPv6 is a module in Debian's UML kernel: load it, with the kernel command line's `ipv6.x=y`. */
static void ipv6_up(void) {
  char *cmdline = read_text("/proc/cmdline", NULL);
  if (!cmdline) cmdline = strdup("");
  if (!is_dir("/proc/sys/net/ipv6") && load_ipv6(cmdline) != 0) {
    char *modprobe[] = {"modprobe", "ipv6", NULL};
    run_wait(modprobe);
  }
  /* Kathará's ipv6=false: set before any link is up, so no interface ever gets a link-local address. */
  for (char *w = cmdline; (w = strstr(w, "ipv6.disable_ipv6=1")); w++)
    if ((w == cmdline || w[-1] == ' ') && (w[19] == 0 || w[19] == ' ' || w[19] == '\n')) {
      char **confs;
      int n = list_dir("/proc/sys/net/ipv6/conf", "", "", &confs);
      for (int i = 0; i < n; i++) {
        char path[320];
        snprintf(path, sizeof path, "/proc/sys/net/ipv6/conf/%s/disable_ipv6", confs[i]);
        write_text(path, "1\n");
      }
      break;
    }
  free(cmdline);
}

/* The host's `6`: IPv6 now, then the sysctls of it that the boot left out. Once. */
static void ipv6_now(void) {
  if (!ipv6_later) return;
  ipv6_later = 0;
  ipv6_up();
  boot_sysctl(IPV6_KEYS);
}

static void boot_guest(const char *tty) {
  mount("proc", "/proc", "proc", 0, NULL);
  mount("sysfs", "/sys", "sysfs", 0, NULL);
  mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
  mkdir("/dev/pts", 0755);
  mkdir("/dev/shm", 0755);
  mount("devpts", "/dev/pts", "devpts", 0, "gid=5,mode=620,ptmxmode=666");
  mount("tmpfs", "/dev/shm", "tmpfs", 0, "mode=1777");
  mount("tmpfs", "/run", "tmpfs", 0, "mode=755");
  mount("tmpfs", "/tmp", "tmpfs", 0, "mode=1777");
  struct stat st;
  if (lstat("/dev/ptmx", &st) != 0) symlink("pts/ptmx", "/dev/ptmx");
  if (lstat("/dev/fd", &st) != 0) symlink("/proc/self/fd", "/dev/fd");
  /* /dev/net/tun exists before its module is loaded (udev's static nodes): OpenVPN and friends open it,
     and the kernel loads tun on that first open (char-major-10-200). */
  mkdir("/dev/net", 0755);
  if (lstat("/dev/net/tun", &st) != 0 && mknod("/dev/net/tun", S_IFCHR | 0666, makedev(10, 200)) == 0) chmod("/dev/net/tun", 0666);
  mkdir_p("/run/vnetlab", 0755);
  mkdir_p("/run/lock", 0755);
  mkdir_p("/var/log", 0755);
  mkdir_p("/var/lib/vnetlab", 0755);
  mkdir_p("/var/run", 0755);
  boot_mark("init");
  if (lstat("/var/run", &st) == 0 && !S_ISLNK(st.st_mode)) mount("/run", "/var/run", NULL, MS_BIND, NULL);
  mount(NULL, "/", NULL, MS_REMOUNT, NULL);
  /* ctrl-alt-del (mconsole `cad`) must reach the init as SIGINT rather than reboot the kernel at once. */
  write_text("/proc/sys/kernel/ctrl-alt-del", "0\n");
  /* Modules (bridge, 8021q, sch_netem, nf_nat…) load on demand from /lib/modules/<kernel version>. */
  if (access("/sbin/modprobe", X_OK) == 0) write_text("/proc/sys/kernel/modprobe", "/sbin/modprobe\n");
  boot_mark("kernel-fs");
  char *cmdline = read_text("/proc/cmdline", NULL);
  if (!cmdline) cmdline = strdup("");

  /* A pooled guest learns who it is now: its arguments come after the kernel's. */
  int pooled = 0;
  for (char *w = cmdline; (w = strstr(w, "vnl_pool=1")); w++)
    if ((w == cmdline || w[-1] == ' ') && (w[10] == 0 || w[10] == ' ' || w[10] == '\n')) pooled = 1;
  if (pooled) {
    static char claim[4096];
    wait_for_claim(tty, claim, sizeof claim);
    size_t cl = strlen(cmdline);
    cmdline = realloc(cmdline, cl + strlen(claim) + 2);
    snprintf(cmdline + cl, strlen(claim) + 2, " %s", claim);
    boot_mark("claimed");
  }

  /* Who am I. */
  char vector_nics[256] = "";
  for (char *w = strtok(cmdline, " \n"); w; w = strtok(NULL, " \n")) {
    if (!strncmp(w, "vnl_name=", 9)) snprintf(boot_name, sizeof boot_name, "%s", w + 9);
    if (pooled && !strncmp(w, "vnl_vec=", 8)) snprintf(vector_nics, sizeof vector_nics, "%s", w + 8);
  }
  if (vector_nics[0]) rename_vector_nics(vector_nics);
  const char *name = boot_name[0] ? boot_name : "vnetlab";
  sethostname(name, strlen(name));
  char line[512];
  snprintf(line, sizeof line, "%s\n", name);
  write_text("/etc/hostname", line);
  /* The machine's name must resolve. A lab's own /etc/hosts (a machine folder's, or Netkit's shared/
     one, placed below on the first boot) is kept: the name is added to it when it is missing, never
     the file rewritten. */
  char *hosts = read_text("/etc/hosts", NULL);
  int listed = 0, empty = !hosts || !*hosts;
  size_t nl = strlen(name);
  for (char *l = hosts ? strtok(hosts, "\n") : NULL; l && !listed; l = strtok(NULL, "\n")) {
    char *hash = strchr(l, '#');
    if (hash) *hash = 0;
    for (char *w = l; *w && !listed; w++)
      if ((w == l || w[-1] == ' ' || w[-1] == '\t') && !strncmp(w, name, nl) && (w[nl] == 0 || w[nl] == ' ' || w[nl] == '\t' || w[nl] == '\r')) listed = w != l;
  }
  free(hosts);
  if (!listed) {
    char text[600];
    if (empty) {
      snprintf(text, sizeof text, "127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n", name);
      write_text("/etc/hosts", text);
    } else {
      int fd = open("/etc/hosts", O_WRONLY | O_APPEND | O_CLOEXEC);
      if (fd >= 0) {
        snprintf(text, sizeof text, "127.0.1.1\t%s\n", name);
        if (write(fd, text, strlen(text)) < 0) say("cannot add %s to /etc/hosts", name);
        close(fd);
      }
    }
  }
  link_up("lo");
  boot_mark("hostname");

  /* The lab-fs (ubd1, read-only): the lab folder and this machine's files. A pooled guest's was just
     hot-plugged: give devtmpfs a moment to show it. */
  for (int i = 0; pooled && i < 200 && stat("/dev/ubdb", &st) != 0; i++) usleep(10000);
  if (boot_name[0] && stat("/dev/ubdb", &st) == 0 && S_ISBLK(st.st_mode)) {
    const char *labfs = "/run/vnetlab/labfs";
    mkdir_p(labfs, 0755);
    if (mount("/dev/ubdb", labfs, "ext4", MS_RDONLY, NULL) == 0) {
      char path[512];
      snprintf(path, sizeof path, "%s/machines/%s", labfs, boot_name);
      if (is_dir(path)) snprintf(boot_machine, sizeof boot_machine, "%s", path);
      const char *binds[2][2] = {{"/run/vnetlab/labfs/lab", "/hostlab"}, {"/run/vnetlab/labfs/lab/shared", "/shared"}};
      for (int i = 0; i < 2; i++) {
        if (!is_dir(binds[i][0])) continue;
        mkdir_p(binds[i][1], 0755);
        if (mount(binds[i][0], binds[i][1], NULL, MS_BIND, NULL) == 0) mount(NULL, binds[i][1], NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL);
      }
    } else {
      say("could not mount the lab files (/dev/ubdb); starting without them");
    }
  }
  /* IPv6 before the sysctls, addresses and links below. A lab whose files never mention it (the lab-fs
     says so: src/main/guest/labfs.ts) gets it once its start is over, or once someone uses this machine
     (the host's `6`): loading the module is ~40 ms of host CPU a guest, a fifth of a tiny guest's boot,
     spent while the lab's other machines still boot. A pooled guest loaded it before it was claimed. */
  ipv6_later = !pooled && !is_dir("/proc/sys/net/ipv6") && access("/run/vnetlab/labfs/ipv6-later", F_OK) == 0;
  if (!ipv6_later) ipv6_up();
  boot_mark("lab-fs");
  /* The lab's scripts, CR stripped, where the init runs them. */
  static const char *scripts[] = {"startup", "shutdown", "exec", "interfaces"};
  for (int i = 0; boot_machine[0] && i < 4; i++) {
    char from[600], to[128];
    snprintf(from, sizeof from, "%s/%s", boot_machine, scripts[i]);
    snprintf(to, sizeof to, i < 3 ? "/run/vnetlab/%s.sh" : "/run/vnetlab/%s", scripts[i]);
    copy_script(from, to);
  }
  if (boot_machine[0]) {
    char from[600];
    snprintf(from, sizeof from, "%s/env", boot_machine);
    char *env = read_text(from, NULL);
    if (env) {
      FILE *f = fopen("/run/vnetlab/env", "w");
      for (char *l = strtok(env, "\n"); l && f; l = strtok(NULL, "\n")) {
        char *cr = strchr(l, '\r');
        if (cr) *cr = 0;
        int ok = (*l == '_' || (*l >= 'A' && *l <= 'Z') || (*l >= 'a' && *l <= 'z'));
        char *c = l + 1;
        while (ok && *c && *c != '=') {
          ok = *c == '_' || (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9');
          c++;
        }
        if (ok && *c == '=') fprintf(f, "%s\n", l);
      }
      if (f) fclose(f);
      free(env);
    }
  }
  /* Place the machine's folder onto / on the first boot of this disk only. After that the disk is the
     student's: files they edited in the guest must survive stop/start, so the lab's copies may not
     overwrite them. `vnetlab wipe` deletes the disk (and this marker) to start over from the lab files. */
  time_t t = time(NULL);
  char *date = boot_date;
  strftime(boot_date, sizeof boot_date, "%a %b %e %H:%M:%S %Z %Y", localtime(&t));
  if (boot_machine[0] && access("/var/lib/vnetlab/placed", F_OK) != 0) {
    /* Netkit copies the lab's shared/ onto / of every machine before the machine's own folder
       (`shared-onto-root` names it, inside the lab-fs); Kathará only mounts it at /shared. */
    char path[600];
    snprintf(path, sizeof path, "%s/shared-onto-root", boot_machine);
    char *shared = read_text(path, NULL);
    if (shared) {
      char *nl = strchr(shared, '\n');
      if (nl) *nl = 0;
      char folder[1024];
      /* A lab-fs path under /lab, never `..`: the compiler wrote it, but the lab-fs is only read here. */
      if (!strncmp(shared, "/lab/", 5) && !strstr(shared, "..") && snprintf(folder, sizeof folder, "/run/vnetlab/labfs%s", shared) < (int)sizeof folder && is_dir(folder)) place_tree(folder, "/");
      free(shared);
    }
    snprintf(path, sizeof path, "%s/root", boot_machine);
    if (is_dir(path)) place_tree(path, "/");
    if (unplaced_count > 0) say("%d lab file(s) could not be placed (see /var/log/vnetlab-startup.log)", unplaced_count);
    char marker[80];
    snprintf(marker, sizeof marker, "%s\n", date);
    write_text("/var/lib/vnetlab/placed", marker);
  }
  boot_mark("files");
  /* sysctl files: the image's own /etc/sysctl.d first, then the lab's. */
  boot_sysctl(ipv6_later ? NOT_IPV6_KEYS : ALL_KEYS);
  boot_mark("sysctl");
  /* Every interface the lab gave us comes up (as in Kathará). */
  char **devs;
  int ndev = list_dir("/sys/class/net", "eth", "", &devs);
  /* …with their cables plugged (see set_carrier): `state UP`, as Kathará's veths show. */
  for (int i = 0; i < ndev; i++) {
    link_up(devs[i]);
    if (set_carrier(devs[i], 1) != 0) say("cannot set the operational state of %s: %s", devs[i], strerror(errno));
  }

  add_lab_addresses();
  free(cmdline);
  boot_mark("links");
}

/* The sysctls, after the init placed the machine's files (they may bring /etc/sysctl.d files). */
static void boot_sysctl(enum sysctl_keys which) {
  char **files;
  int n = list_dir("/etc/sysctl.d", "", ".conf", &files);
  for (int i = 0; i < n; i++) {
    char path[512];
    snprintf(path, sizeof path, "/etc/sysctl.d/%s", files[i]);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) apply_sysctl(path, which);
  }
  if (boot_machine[0]) {
    char path[600];
    snprintf(path, sizeof path, "%s/sysctl", boot_machine);
    apply_sysctl(path, which);
  }
}

/* ---- the halt: the end of the init's shutdown -----------------------------------------------------
 * Every other process gets SIGTERM and as long as it needs to end, at most a second (a shell init used to
 * sleep that second whatever happened), then SIGKILL; then the disks are synced, the lab-fs unmounted,
 * / remounted read-only, and the guest powers off. */

/* Reaps children until none is left (ECHILD: as PID 1 every process is ours) or `ms` have passed. */
static int wait_all_gone(int ms) {
  for (int waited = 0;; waited += 10) {
    pid_t pid;
    while ((pid = waitpid(-1, NULL, WNOHANG)) > 0) {}
    if (pid < 0 && errno == ECHILD) return 1;
    if (waited >= ms) return 0;
    usleep(10000);
  }
}

/* What a terminal's hangup does at a real shutdown: interactive shells ignore SIGTERM and would hold
   the halt for its whole second; SIGHUP ends them. Only processes with a controlling terminal (a
   console or a pty): daemons have none, and to them SIGHUP means "reload". */
static void hang_up_terminals(void) {
  DIR *d = opendir("/proc");
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    char *end;
    long pid = strtol(e->d_name, &end, 10);
    if (*end || pid <= 1) continue;
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ssize_t n = read(fd, line, sizeof line - 1);
    close(fd);
    if (n <= 0) continue;
    line[n] = 0;
    /* pid (comm) state ppid pgrp session tty_nr …: comm may hold spaces and parentheses, so after the last ')'. */
    char *p = strrchr(line, ')');
    int ppid, pgrp, session, tty = 0;
    char state;
    if (p && sscanf(p + 1, " %c %d %d %d %d", &state, &ppid, &pgrp, &session, &tty) == 5 && tty != 0) kill((pid_t)pid, SIGHUP);
  }
  closedir(d);
}

static void halt_guest(void) {
  kill(-1, SIGTERM);
  hang_up_terminals();
  kill(-1, SIGCONT);
  if (!wait_all_gone(1000)) {
    kill(-1, SIGKILL);
    wait_all_gone(1000);
  }
  sync();
  static const char *mounts[] = {"/hostlab", "/shared", "/run/vnetlab/labfs"};
  for (int i = 0; i < 3; i++) umount2(mounts[i], 0);
  mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY, NULL);
  say("halting");
  sync();
  reboot(RB_POWER_OFF);
  /* PID 1 must never end: the kernel would panic. */
  for (;;) pause();
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

/* A window size from the host: digits only, within what a terminal can be. */
static int parse_dim(const char *text) {
  char *end;
  long v = strtol(text, &end, 10);
  return (*text && !*end && v > 0 && v <= 1000) ? (int)v : -1;
}

/* --winsize PTS ROWS COLS: the host resizes an extra console (its relay says which pts it is). */
static int set_winsize(const char *pts, const char *rows, const char *cols) {
  struct winsize ws = {0};
  int r = parse_dim(rows), c = parse_dim(cols);
  if (strncmp(pts, "/dev/pts/", 9) != 0 || r < 0 || c < 0) {
    fprintf(stderr, "usage: vnetlab-agent --winsize /dev/pts/N ROWS COLS\n");
    return 2;
  }
  int fd = open(pts, O_RDWR | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    perror(pts);
    return 1;
  }
  ws.ws_row = (unsigned short)r;
  ws.ws_col = (unsigned short)c;
  int rc = ioctl(fd, TIOCSWINSZ, &ws); /* the kernel sends SIGWINCH to the pty's foreground group */
  close(fd);
  return rc == 0 ? 0 : 1;
}

static volatile sig_atomic_t pty_child_done = 0;
static void on_pty_child(int sig) { (void)sig; pty_child_done = 1; }

/* --pty ROWS COLS CMD…: an extra console. The agent runs this as an ordinary exec command with stdin
   kept open; CMD (a login shell) gets a pty of its own as its controlling terminal (run_console), and
   this process relays the exec's stdin to the pty and the pty to the exec's stdout. Writes to the pty
   never block (a shell that reads nothing must not stop its own output from being relayed); writes to
   stdout do: that is the back-pressure from a slow serial line onto the shell. */
static int run_pty(const char *rows, const char *cols, char **cmd) {
  int r = parse_dim(rows), c = parse_dim(cols);
  if (r < 0 || c < 0) {
    fprintf(stderr, "usage: vnetlab-agent --pty ROWS COLS CMD...\n");
    return 2;
  }
  int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0) {
    perror("vnetlab-agent: no pty (is devpts mounted on /dev/pts?)");
    return 1;
  }
  const char *name = ptsname(master);
  if (!name) return 1;
  char pts[64];
  snprintf(pts, sizeof pts, "%s", name);
  struct winsize ws = {0};
  ws.ws_row = (unsigned short)r;
  ws.ws_col = (unsigned short)c;
  ioctl(master, TIOCSWINSZ, &ws);
  /* Held open until the end, so the pty is not hung up before the shell has opened it: the relay ends
     when the shell does (SIGCHLD), or when the host closes stdin. */
  int slave = open(pts, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) {
    perror(pts);
    return 1;
  }

  sigset_t chld, old;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, &old);
  struct sigaction sa = {0};
  sa.sa_handler = on_pty_child;
  sigaction(SIGCHLD, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  pid_t pid = fork();
  if (pid < 0) return 1;
  if (pid == 0) {
    close(master);
    _exit(run_console(pts, cmd));
  }
  fprintf(stderr, "pts %s\n", pts);
  fflush(stderr);
  set_nonblock(master);

  char in[4096];
  size_t in_len = 0, in_off = 0;
  int stdin_open = 1;
  sigset_t during;
  sigemptyset(&during); /* SIGCHLD only interrupts ppoll, never a read or write in between */
  for (;;) {
    struct pollfd fds[2];
    int n = 0;
    fds[n++] = (struct pollfd){master, (short)(POLLIN | (in_len > in_off ? POLLOUT : 0)), 0};
    if (stdin_open && in_len == in_off) fds[n++] = (struct pollfd){0, POLLIN, 0};
    int rc = ppoll(fds, (nfds_t)n, NULL, &during);
    if (rc < 0 && errno != EINTR) break;
    if (pty_child_done) break;
    if (rc <= 0) continue;
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      char buf[CHUNK];
      ssize_t got = read(master, buf, sizeof buf);
      if (got > 0) write_all(1, buf, (size_t)got);
      else if (got == 0 || (errno != EAGAIN && errno != EINTR)) break;
    }
    if ((fds[0].revents & POLLOUT) && in_len > in_off) {
      ssize_t put = write(master, in + in_off, in_len - in_off);
      if (put > 0) in_off += (size_t)put;
      if (in_off == in_len) in_off = in_len = 0;
    }
    if (n > 1 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t got = read(0, in, sizeof in);
      if (got > 0) {
        in_len = (size_t)got;
        in_off = 0;
        ssize_t put = write(master, in, in_len);
        if (put > 0) in_off = (size_t)put;
        if (in_off == in_len) in_off = in_len = 0;
      } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
        break; /* the host closed the console: hang the pty up, which ends its shell */
      }
    }
  }
  /* What the shell wrote last (its `logout`), then hang up the pty: the shell and its jobs get SIGHUP. */
  char buf[CHUNK];
  ssize_t got;
  while ((got = read(master, buf, sizeof buf)) > 0) write_all(1, buf, (size_t)got);
  close(master);
  close(slave);
  int status = 0;
  if (!pty_child_done) kill(pid, SIGHUP);
  waitpid(pid, &status, 0);
  sigprocmask(SIG_SETMASK, &old, NULL);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/* ---- --link-watch: the link lights' source (src/main/runtime/link-watch.ts) -----------------------
 * Prints `links eth0=up eth1=down …` (each NIC: down when administratively down, no-carrier when up
 * without carrier, else up), then again whenever that changes. It sleeps on a netlink socket subscribed
 * to link events, so an idle guest costs nothing: a shell loop that looked twice a second cost ~3 ms of
 * host CPU a second per guest, 1.5 of 2 cores with 500 idle guests. */
static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void read_line_of(const char *path, char *out, size_t size) {
  out[0] = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t n = read(fd, out, size - 1);
  close(fd);
  out[n > 0 ? n : 0] = 0;
  out[strcspn(out, "\n")] = 0;
}

static void links_now(char *out, size_t size) {
  char *names[256];
  int count = 0;
  DIR *dir = opendir("/sys/class/net");
  struct dirent *e;
  while (dir && count < 256 && (e = readdir(dir)) != NULL)
    if (strncmp(e->d_name, "eth", 3) == 0) names[count++] = strdup(e->d_name);
  if (dir) closedir(dir);
  qsort(names, (size_t)count, sizeof names[0], by_name); /* the order the shell's glob gave */
  size_t used = 0;
  out[0] = 0;
  for (int i = 0; i < count; i++) {
    char path[300], flags[32], oper[32];
    snprintf(path, sizeof path, "/sys/class/net/%s/flags", names[i]);
    read_line_of(path, flags, sizeof flags);
    snprintf(path, sizeof path, "/sys/class/net/%s/operstate", names[i]);
    read_line_of(path, oper, sizeof oper);
    if (flags[0]) {
      const char *state = !(strtol(flags, NULL, 0) & 1) ? "down" : (!strcmp(oper, "up") || !strcmp(oper, "unknown")) ? "up" : "no-carrier";
      int n = snprintf(out + used, size - used, " %s=%s", names[i], state);
      if (n > 0 && (size_t)n < size - used) used += (size_t)n;
    }
    free(names[i]);
  }
}

/* `S <id>`: the same watch, served by this agent: its netlink socket joins the main loop, and each
   change goes to the host as stdout of command <id> (`O <id> …`). The command's `K <id>` ends it (`D <id>
   137`). A second `S` replaces it without a word about the first: whoever asked for that one may be
   gone (a pooled guest's first owner), and its id may be one the new asker uses. Run as a command (the
   `vnetlab-agent --link-watch` of agents before this one), each guest paid a fork, a shell and an exec: three new address
   spaces, ~35 ms of host CPU a guest (bench/README.md), spent while the lab's other guests still boot. */
static char links_sent[8192];

static void links_start(long id) {
  if (links_fd >= 0) close(links_fd);
  links_id = -1;
  links_fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK};
  if (links_fd < 0 || bind(links_fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    char why[160];
    int n = snprintf(why, sizeof why, "vnetlab-agent: link watch: netlink: %s\n", strerror(errno));
    send_chunk('E', id, (const unsigned char *)why, (size_t)n);
    send_line("D %ld 1", id);
    if (links_fd >= 0) close(links_fd);
    links_fd = -1;
    return;
  }
  links_id = id;
  links_sent[0] = 1; /* never equal to a first reading: it is always sent */
  links_changed();
}

/* Reads what the socket holds (the events themselves say nothing we need), then looks at the NICs. */
static void links_changed(void) {
  static char events[16384], cur[8192], line[8200];
  for (;;) {
    ssize_t got = recv(links_fd, events, sizeof events, 0);
    if (got > 0 || (got < 0 && (errno == EINTR || errno == ENOBUFS))) continue; /* ENOBUFS: events lost, we look anyway */
    break;
  }
  links_now(cur, sizeof cur);
  if (strcmp(cur, links_sent) == 0) return;
  strcpy(links_sent, cur);
  int n = snprintf(line, sizeof line, "links%s\n", cur);
  if (n <= 0 || (size_t)n >= sizeof line) return;
  for (int at = 0; at < n; at += CHUNK) send_chunk('O', links_id, (const unsigned char *)line + at, (size_t)(n - at < CHUNK ? n - at : CHUNK));
}

static void links_stop(int code) {
  close(links_fd);
  links_fd = -1;
  send_line("D %ld %d", links_id, code);
  links_id = -1;
}

/* ---- --init: PID 1 ---------------------------------------------------------------------------------
 * The guest's init (kernels/guest/vnetlab-init execs it first thing): the early boot above, then this one
 * process serves the exec channel, runs the lab's startup and exec scripts, keeps the console's shell
 * (started by a key, started again after it ends), reaps every orphan and turns SIGINT (ctrl-alt-del),
 * SIGTERM, SIGUSR1 and SIGUSR2 into the shutdown. The shell init did the same with a fork and an exec of
 * this agent for the boot, a fork to serve, a fork and an exec for the console's loop: five new address
 * spaces, which UML makes each with a host process filled page by page through ptrace, on the path of
 * every booting guest. Whatever goes wrong here, PID 1 never returns: the kernel panics when it dies. */
static volatile sig_atomic_t shutdown_asked = 0;
static int shutdown_started = 0;
static pid_t startup_pid = 0, shutdown_pid = 0;
#define STARTUP_LOG "/var/log/vnetlab-startup.log"

/* The console (/dev/tty0): no process until a key comes (most consoles of a big lab stay closed). */
static const char *console_tty = "/dev/tty0";
static char console_shell[16] = "/bin/sh";
static int console_fd = -1; /* open and raw: waiting for the key */
static struct termios console_saved;
static pid_t console_pid = 0;
static double console_open_at = 0; /* monotonic seconds: when to open it again; 0 = not to */
static int console_round = 0;

static void on_shutdown_signal(int sig) {
  (void)sig;
  shutdown_asked = 1;
  on_sigchld(sig); /* wake the loop */
}

/* A child of PID 1: signals as a program expects them, stdin from /dev/null, stdout and stderr to `log`
   (appended), or left as they are when log is NULL. */
static void child_io(const char *log) {
  default_signals();
  int null = open("/dev/null", O_RDWR);
  if (null >= 0) dup2(null, 0);
  if (log) {
    int fd = open(log, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      if (fd > 2) close(fd);
    }
  }
  if (null > 2) close(null);
}

static void append_text(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return;
  if (write(fd, text, strlen(text)) < 0) { /* a full disk: the log line is lost, the boot goes on */ }
  close(fd);
}

static int is_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The optional `exec` command runs in the background in its own session (it may be a long-running program);
   the machine is ready once it has been started. */
static void start_exec_script(void) {
  if (!is_file("/run/vnetlab/exec.sh")) return;
  pid_t pid = fork();
  if (pid == 0) {
    child_io("/var/log/vnetlab-exec.log");
    setsid();
    execlp("sh", "sh", "/run/vnetlab/exec.sh", (char *)NULL);
    _exit(127);
  }
}

static void init_ready(int code) {
  char line[64];
  snprintf(line, sizeof line, "=== startup exited %d ===\n", code);
  if (startup_pid) append_text(STARTUP_LOG, line);
  startup_pid = 0;
  start_exec_script();
  boot_mark("startup");
  ready_code = code;
  send_line("R %d", ready_code);
}

/* The lab's startup script, as a child: the channel is served while it runs (pings answer `B`). */
static void start_startup_script(void) {
  if (!is_file("/run/vnetlab/startup.sh")) {
    init_ready(0);
    return;
  }
  char line[128];
  snprintf(line, sizeof line, "=== startup %s ===\n", boot_date);
  append_text(STARTUP_LOG, line);
  pid_t pid = fork();
  if (pid == 0) {
    child_io(STARTUP_LOG);
    execlp("sh", "sh", "/run/vnetlab/startup.sh", (char *)NULL);
    _exit(127);
  }
  if (pid < 0) {
    init_ready(126);
    return;
  }
  startup_pid = pid;
}

/* Daemons (FRR, bind9, dhcpd) log through syslog(3), which falls back to /dev/console when nothing listens
   on /dev/log. A tiny sink writes their lines to /var/log/syslog instead (`less /var/log/syslog`), without
   the `<pri>` prefix of the datagram, as rsyslog writes them. Only where there is a python3 (Debian). */
static void start_syslog_sink(void) {
  struct stat st;
  if (access("/usr/bin/python3", X_OK) != 0 || lstat("/dev/log", &st) == 0) return;
  static const char program[] =
      "import os, re, socket\n"
      "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
      "s.bind('/dev/log'); os.chmod('/dev/log', 0o666)\n"
      "f = open('/var/log/syslog', 'ab', 0)\n"
      "pri = re.compile(rb'^<[0-9]{1,3}>')\n"
      "while True: f.write(pri.sub(b'', s.recv(16384).rstrip(b'\\n\\0')) + b'\\n')\n";
  pid_t pid = fork();
  if (pid == 0) {
    child_io(NULL);
    int null = open("/dev/null", O_WRONLY);
    if (null >= 0) dup2(null, 1);
    int log = open("/var/log/vnetlab-syslog.log", O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (log >= 0) dup2(log, 2);
    execl("/usr/bin/python3", "python3", "-S", "-I", "-c", program, (char *)NULL);
    _exit(127);
  }
}

static void console_open(void) {
  console_open_at = 0;
  int fd = open(console_tty, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    console_open_at = now() + 1;
    return;
  }
  if (console_round > 0) dprintf(fd, "[%s: the shell ended; press Enter for a new one]\n", boot_name[0] ? boot_name : "vnetlab");
  if (tcgetattr(fd, &console_saved) == 0) {
    struct termios raw = console_saved;
    raw.c_lflag &= ~(ICANON | ECHO);
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    tcsetattr(fd, TCSANOW, &raw);
  }
  console_fd = fd;
}

/* The key came (read without echo and not kept: what follows stays queued for the shell), or the tty hung
   up (then it is opened again a second later). The tty is closed while a shell runs: when the shell's
   session ends, the kernel hangs up every open file of the tty. */
static void console_key(void) {
  char key;
  ssize_t got = read(console_fd, &key, 1);
  if (got < 0 && (errno == EAGAIN || errno == EINTR)) return;
  tcsetattr(console_fd, TCSANOW, &console_saved);
  close(console_fd);
  console_fd = -1;
  console_round++;
  if (got != 1) {
    console_open_at = now() + 1;
    return;
  }
  pid_t pid = fork();
  if (pid == 0) {
    char *cmd[] = {console_shell, "-l", NULL};
    _exit(run_console(console_tty, cmd));
  }
  if (pid < 0) console_open_at = now() + 1;
  else console_pid = pid;
}

static void init_reaped(pid_t pid, int status) {
  if (pid == startup_pid) init_ready(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  else if (pid == console_pid) {
    console_pid = 0;
    console_open_at = now() + 1; /* a shell that cannot start must not spin */
  } else if (pid == shutdown_pid) {
    shutdown_pid = 0;
    halt_guest(); /* never returns */
  }
}

/* The shutdown: the lab's shutdown script (its output to the console too, so the host sees it), then
   halt_guest (every process ends, disks synced, / read-only, power off). */
static void init_shutdown(void) {
  shutdown_started = 1;
  if (console_fd >= 0) {
    tcsetattr(console_fd, TCSANOW, &console_saved);
    close(console_fd);
    console_fd = -1;
  }
  console_open_at = 0;
  say("shutting down");
  if (!is_file("/run/vnetlab/shutdown.sh")) halt_guest();
  pid_t pid = fork();
  if (pid == 0) {
    child_io(NULL);
    execlp("sh", "sh", "-c", "sh /run/vnetlab/shutdown.sh < /dev/null 2>&1 | tee -a /var/log/vnetlab-shutdown.log > /dev/console", (char *)NULL);
    _exit(127);
  }
  if (pid < 0) halt_guest();
  shutdown_pid = pid;
}

/* PID 1's start: what the shell init did before it served anything. */
static void init_boot(void) {
  setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 1);
  setenv("HOME", "/root", 1);
  const char *term = getenv("TERM");
  if (!term || !*term || !strcmp(term, "linux") || !strcmp(term, "dumb")) setenv("TERM", "xterm", 1);
  umask(022);
  if (chdir("/") != 0) { /* / is there */ }
  /* Shutdown signals are caught from the start (a `cad` during the boot halts once it is over), the
     others are left to the children. */
  signal(SIGPIPE, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  if (pipe2(sigchld_pipe, O_CLOEXEC | O_NONBLOCK)) sigchld_pipe[0] = sigchld_pipe[1] = -1;
  struct sigaction sa = {0};
  sa.sa_handler = on_shutdown_signal;
  sa.sa_flags = SA_RESTART;
  int caught[] = {SIGINT, SIGTERM, SIGUSR1, SIGUSR2};
  for (int i = 0; i < 4; i++) sigaction(caught[i], &sa, NULL);
  /* Kernels whose VDE transport is the vector driver call their NICs vecN; labs say ethN. The compiler
     lists the Ns in `vnl_vec=0,1,…`, which the kernel hands to PID 1 as an environment variable. */
  const char *vec = getenv("vnl_vec");
  if (vec && *vec) rename_vector_nics(vec);
  boot_guest("/dev/ttyS0");
  /* The student's console stays quiet: kernel messages (link up/down, martians…) would land between the
     prompt and the output; `dmesg` still shows them all. */
  write_text("/proc/sys/kernel/printk", "1\n");
  start_syslog_sink();
  /* The lab's environment, for every process PID 1 starts from now on. */
  load_lab_env();
  boot_mark("interfaces");
  if (access("/bin/bash", X_OK) == 0) strcpy(console_shell, "/bin/bash");
  struct stat st;
  if (stat(console_tty, &st) == 0 && S_ISCHR(st.st_mode)) console_open();
  else console_tty = NULL;
}

/* PID 1 serves the exec channel on `tty` for good. */
static void serve(const char *tty) {
  /* A pooled guest's boot kept the channel open (anything read from it was answered). */
  if (tty_fd < 0) tty_fd = open(tty, O_RDWR | O_NOCTTY);
  if (tty_fd < 0) {
    perror(tty); /* no channel: the host will say this guest never got ready; the init goes on */
  } else {
    make_raw(tty_fd);
    fcntl(tty_fd, F_SETFD, FD_CLOEXEC);
  }
  struct sigaction sa = {0};
  sa.sa_handler = on_sigchld;
  sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
  sigaction(SIGCHLD, &sa, NULL);
  for (int i = 0; i < MAX_CMDS; i++) cmds[i].out = cmds[i].err = cmds[i].in = -1;
  /* What this agent understands beyond the first protocol: 1 = `H` (halt), 2 = `S` (the link watch in this
     process). A host asks only what was announced. */
  send_line("V 2");
  send_line("B");
  start_startup_script();

  char *line = malloc(MAX_LINE);
  size_t line_len = 0;
  for (;;) {
    if (shutdown_asked && !shutdown_started) init_shutdown();
    struct pollfd fds[5 + MAX_CMDS * 3];
    struct cmd *owner[5 + MAX_CMDS * 3];
    char kinds[5 + MAX_CMDS * 3];
    int n = 0;
    if (tty_fd >= 0) { fds[n] = (struct pollfd){tty_fd, POLLIN, 0}; owner[n] = NULL; kinds[n++] = 't'; }
    fds[n] = (struct pollfd){sigchld_pipe[0], POLLIN, 0}; owner[n] = NULL; kinds[n++] = 's';
    if (links_fd >= 0) { fds[n] = (struct pollfd){links_fd, POLLIN, 0}; owner[n] = NULL; kinds[n++] = 'l'; }
    if (console_fd >= 0) { fds[n] = (struct pollfd){console_fd, POLLIN, 0}; owner[n] = NULL; kinds[n++] = 'k'; }
    double next_deadline = console_open_at;
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
    if (r < 0 && errno != EINTR) {
      usleep(100000); /* PID 1 goes on whatever happens */
      continue;
    }
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
      case 'l': links_changed(); break;
      case 'k': if (console_fd >= 0) console_key(); break;
      case 'O': if (c->used) drain(c, &c->out, 'O', 16); break;
      case 'E': if (c->used) drain(c, &c->err, 'E', 16); break;
      case 'I': if (c->used) flush_stdin(c); break;
      }
    }
    reap();
    double t = now();
    if (console_open_at > 0 && t >= console_open_at && console_tty && !shutdown_started) console_open();
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

int main(int argc, char **argv) {
  /* The kernel starts it as /sbin/vnetlab-init (a symlink to this binary): PID 1 is the init. */
  if (getpid() == 1) {
    init_boot();
    int log = open("/var/log/vnetlab-agent.log", O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (log >= 0) {
      dup2(log, 2);
      close(log);
    }
    serve("/dev/ttyS0");
    for (;;) pause(); /* not reached: PID 1 never returns */
  }
  if (argc >= 2 && strcmp(argv[1], "--init") == 0) {
    fprintf(stderr, "vnetlab-agent --init: only the kernel starts the guest's init (as PID 1)\n");
    return 2;
  }
  if (argc >= 5 && strcmp(argv[1], "--pty") == 0) return run_pty(argv[2], argv[3], argv + 4);
  if (argc == 5 && strcmp(argv[1], "--winsize") == 0) return set_winsize(argv[2], argv[3], argv[4]);
  if (argc == 4 && strcmp(argv[1], "--carrier") == 0) {
    int on = !strcmp(argv[3], "on") || !strcmp(argv[3], "up") || !strcmp(argv[3], "1");
    if (!on && strcmp(argv[3], "off") && strcmp(argv[3], "down") && strcmp(argv[3], "0")) {
      fprintf(stderr, "usage: vnetlab-agent --carrier IF on|off\n");
      return 2;
    }
    if (set_carrier(argv[2], on) != 0) {
      fprintf(stderr, "vnetlab-agent: cannot set the carrier of %s: %s\n", argv[2], strerror(errno));
      return 1;
    }
    return 0;
  }
  fprintf(stderr, "usage: vnetlab-agent --init | --pty ROWS COLS CMD… | --winsize PTS ROWS COLS | --carrier IF on|off\n");
  return 2;
}
