/*
 * vnetlab-confine: run one program (a UML guest, a switch, a wirefilter, slirp) sealed off from the
 * host with Landlock, so that whatever that program does — a guest's root mounting hostfs, a kernel
 * module loaded into a guest, a bug in a switch — it reaches only the files it was given here.
 *
 *   vnetlab-confine [--exec P] [--read P] [--write P] [--sockets P] [--create P]
 *                   [--no-tcp] [--scoped] [--no-randomize] [--preload LIB] [--keep-fds N]
 *                   -- PROGRAM [ARG...]
 *   vnetlab-confine --abi          print the Landlock ABI of this host kernel (0: none) and exit
 *
 *   --exec P      read and execute P (a file, or every file beneath a folder)
 *   --read P      read P (files, and list folders beneath it)
 *   --write P     read, write and truncate P (no new files)
 *   --sockets P   create Unix sockets beneath folder P (and nothing else there)
 *   --create P    everything beneath folder P: create, write, remove files, folders, sockets, FIFOs
 *   --no-tcp      no TCP bind or connect at all (Landlock ABI >= 4)
 *   --scoped      no abstract Unix sockets and no signals outside this sandbox (Landlock ABI >= 6)
 *   --no-randomize  no address space randomisation (what `setarch -R` does; see needsNoRandomize)
 *   --preload LIB   LD_PRELOAD=LIB for PROGRAM (the AMX fix of kernels/host/uml-xstate-fix.c)
 *   --keep-fds N    PROGRAM keeps descriptors 0 to N-1 (default 3: stdin, stdout, stderr; a guest also
 *                   has its exec channel on 3 and 4); every other one it inherited is closed
 *
 * Every filesystem right the kernel knows is handled, so anything not granted above is denied — to
 * the program and to everything it starts; the sandbox cannot be left (no_new_privs, and Landlock
 * domains only ever shrink). The rules are checked when a file is opened, so descriptors inherited
 * from the launcher (the console pty, the exec channel FIFOs) keep working — and so every other one
 * inherited is closed here: a descriptor is a right Landlock does not see. Whoever started us may hold
 * descriptors it did not mean to pass (another guest's console, a pipe of the user's shell), and a
 * guest's kernel module runs as host code in this process.
 *
 * Exit codes before PROGRAM runs: 125 bad usage or a path that cannot be opened, 124 Landlock is
 * missing or refused the rules (the caller says what to enable), 127 PROGRAM cannot be executed.
 * Static, no dependencies: built by vnetlab with `cc -static -O2` (src/main/images/host-tools.ts).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset 444
#define __NR_landlock_add_rule 445
#define __NR_landlock_restrict_self 446
#endif
#ifndef LANDLOCK_CREATE_RULESET_VERSION
#define LANDLOCK_CREATE_RULESET_VERSION (1U << 0)
#endif

/* Rights by the ABI that brought them (the installed header may predate some of them). */
#define FS_EXECUTE (1ULL << 0)
#define FS_WRITE_FILE (1ULL << 1)
#define FS_READ_FILE (1ULL << 2)
#define FS_READ_DIR (1ULL << 3)
#define FS_REMOVE_DIR (1ULL << 4)
#define FS_REMOVE_FILE (1ULL << 5)
#define FS_MAKE_CHAR (1ULL << 6)
#define FS_MAKE_DIR (1ULL << 7)
#define FS_MAKE_REG (1ULL << 8)
#define FS_MAKE_SOCK (1ULL << 9)
#define FS_MAKE_FIFO (1ULL << 10)
#define FS_MAKE_BLOCK (1ULL << 11)
#define FS_MAKE_SYM (1ULL << 12)
#define FS_REFER (1ULL << 13)     /* ABI 2 */
#define FS_TRUNCATE (1ULL << 14)  /* ABI 3 */
#define FS_IOCTL_DEV (1ULL << 15) /* ABI 5 */
#define NET_BIND_TCP (1ULL << 0)    /* ABI 4 */
#define NET_CONNECT_TCP (1ULL << 1) /* ABI 4 */
#define SCOPE_ABSTRACT_UNIX (1ULL << 0) /* ABI 6 */
#define SCOPE_SIGNAL (1ULL << 1)        /* ABI 6 */

/* Rights that make sense on a single file (the kernel refuses the others on a non-folder). */
#define FILE_RIGHTS (FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV)

struct ruleset_attr {
  uint64_t handled_access_fs;
  uint64_t handled_access_net;
  uint64_t scoped;
};

struct path_beneath_attr {
  uint64_t allowed_access;
  int32_t parent_fd;
} __attribute__((packed));

static int landlock_abi(void) {
  long abi = syscall(__NR_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
  return abi < 0 ? 0 : (int)abi;
}

static uint64_t fs_rights_of_abi(int abi) {
  uint64_t rights = (FS_MAKE_SYM << 1) - 1; /* ABI 1: bits 0..12 */
  if (abi >= 2) rights |= FS_REFER;
  if (abi >= 3) rights |= FS_TRUNCATE;
  if (abi >= 5) rights |= FS_IOCTL_DEV;
  return rights;
}

static void die(int code, const char *what, const char *detail) {
  fprintf(stderr, "vnetlab-confine: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
  exit(code);
}

static uint64_t rights_of_flag(const char *flag) {
  const uint64_t read = FS_READ_FILE | FS_READ_DIR;
  const uint64_t write = read | FS_WRITE_FILE | FS_TRUNCATE;
  if (!strcmp(flag, "--exec")) return read | FS_EXECUTE;
  if (!strcmp(flag, "--read")) return read;
  if (!strcmp(flag, "--write")) return write;
  if (!strcmp(flag, "--sockets")) return FS_MAKE_SOCK;
  if (!strcmp(flag, "--create"))
    return write | FS_REMOVE_DIR | FS_REMOVE_FILE | FS_MAKE_DIR | FS_MAKE_REG | FS_MAKE_SOCK | FS_MAKE_FIFO | FS_MAKE_SYM | FS_REFER;
  return 0;
}

static void add_path_rule(int ruleset, const char *path, uint64_t rights, uint64_t handled) {
  int fd = open(path, O_PATH | O_CLOEXEC);
  if (fd < 0) die(125, path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) die(125, path, strerror(errno));
  if (!S_ISDIR(st.st_mode)) rights &= FILE_RIGHTS;
  /* Device ioctls only where a device is named on its own (/dev/null), never beneath a folder. */
  if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) rights |= FS_IOCTL_DEV;
  struct path_beneath_attr rule = {.allowed_access = rights & handled, .parent_fd = fd};
  if (rule.allowed_access && syscall(__NR_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0) != 0)
    die(124, path, strerror(errno));
  close(fd);
}

#ifndef __NR_close_range
#define __NR_close_range 436
#endif

/* Closes every descriptor from `first` up: close_range(2), or one by one where the kernel predates it. */
static void close_from(int first) {
  if (syscall(__NR_close_range, (unsigned)first, ~0U, 0) == 0) return;
  DIR *dir = opendir("/proc/self/fd");
  if (!dir) die(125, "cannot close inherited descriptors", strerror(errno));
  int fds[4096], count = 0;
  struct dirent *entry;
  while ((entry = readdir(dir)) && count < 4096) {
    int fd = atoi(entry->d_name);
    if (entry->d_name[0] >= '0' && entry->d_name[0] <= '9' && fd >= first && fd != dirfd(dir)) fds[count++] = fd;
  }
  closedir(dir);
  for (int i = 0; i < count; i++) close(fds[i]);
}

int main(int argc, char **argv) {
  if (argc == 2 && !strcmp(argv[1], "--abi")) {
    printf("%d\n", landlock_abi());
    return 0;
  }
  int abi = landlock_abi();
  if (abi < 1) die(124, "Landlock is not available in this kernel", "enable CONFIG_SECURITY_LANDLOCK and add landlock to lsm=");

  int no_tcp = 0, scoped = 0, no_randomize = 0, program = 0, keep_fds = 3;
  const char *preload = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--")) {
      program = i + 1;
      break;
    }
    if (!strcmp(argv[i], "--no-tcp")) no_tcp = 1;
    else if (!strcmp(argv[i], "--scoped")) scoped = 1;
    else if (!strcmp(argv[i], "--no-randomize")) no_randomize = 1;
    else if (!strcmp(argv[i], "--preload") && i + 1 < argc) preload = argv[++i];
    else if (!strcmp(argv[i], "--keep-fds") && i + 1 < argc) {
      char *end;
      long n = strtol(argv[++i], &end, 10);
      if (*end || n < 0 || n > 64) die(125, "--keep-fds wants a number from 0 to 64", argv[i]);
      keep_fds = (int)n;
    } else if (rights_of_flag(argv[i]) && i + 1 < argc) i++; /* a path rule: added below */
    else die(125, "unknown option or missing value", argv[i]);
  }
  if (!program || program >= argc) die(125, "usage", "vnetlab-confine [rules] -- PROGRAM [ARG...]");
  close_from(keep_fds);

  struct ruleset_attr attr = {.handled_access_fs = fs_rights_of_abi(abi)};
  size_t attr_size = sizeof attr.handled_access_fs;
  if (no_tcp && abi >= 4) {
    attr.handled_access_net = NET_BIND_TCP | NET_CONNECT_TCP;
    attr_size = offsetof(struct ruleset_attr, scoped);
  }
  if (scoped && abi >= 6) {
    attr.scoped = SCOPE_ABSTRACT_UNIX | SCOPE_SIGNAL;
    attr_size = sizeof attr;
  }
  int ruleset = (int)syscall(__NR_landlock_create_ruleset, &attr, attr_size, 0);
  if (ruleset < 0) die(124, "cannot create a Landlock ruleset", strerror(errno));
  for (int i = 1; i < program - 1; i++) {
    uint64_t rights = rights_of_flag(argv[i]);
    if (rights) add_path_rule(ruleset, argv[++i], rights, attr.handled_access_fs);
    else if (!strcmp(argv[i], "--preload") || !strcmp(argv[i], "--keep-fds")) i++;
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) die(124, "cannot set no_new_privs", strerror(errno));
  if (syscall(__NR_landlock_restrict_self, ruleset, 0) != 0) die(124, "Landlock refused to restrict this process", strerror(errno));
  close(ruleset);

  if (no_randomize) {
    int persona = personality(0xffffffff);
    if (persona < 0 || personality((unsigned long)persona | ADDR_NO_RANDOMIZE) < 0) die(125, "cannot turn off address randomisation", strerror(errno));
  }
  if (preload && setenv("LD_PRELOAD", preload, 1) != 0) die(125, "cannot set LD_PRELOAD", strerror(errno));
  execvp(argv[program], argv + program);
  die(127, argv[program], strerror(errno));
  return 127;
}
