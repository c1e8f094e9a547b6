/*
 * vnetlab-mconsole: talk to a UML guest's management console (mconsole), like uml_mconsole, but from a
 * socket that a sandboxed guest may answer.
 *
 *   vnetlab-mconsole SOCKET            commands on stdin, one a line; prints "OK reply" or "ERR reply"
 *                                      for each, in order (uml_mconsole's interactive output)
 *
 * uml_mconsole binds its reply socket in the abstract namespace, and a guest's Landlock sandbox (scoped:
 * no abstract sockets outside it, so a guest cannot reach X11 or D-Bus) refuses to send there. This
 * client binds a pathname socket next to the guest's own mconsole socket instead (in the guest's folder,
 * 0700), and removes it when done. The protocol is arch/um/drivers/mconsole.h: a request is
 * {magic 0xcafebabe, version 2, len, data[512]}, each reply {err, more, len, data[512]} until more == 0.
 * Exit codes: 0 every command answered OK, 1 one answered ERR, 2 usage, 3 the guest did not answer.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MCONSOLE_MAGIC 0xcafebabe
#define MCONSOLE_VERSION 2
#define MCONSOLE_MAX_DATA 512
#define REPLY_TIMEOUT_MS 5000

struct request {
  uint32_t magic;
  uint32_t version;
  uint32_t len;
  char data[MCONSOLE_MAX_DATA];
};

struct reply {
  uint32_t err;
  uint32_t more;
  uint32_t len;
  char data[MCONSOLE_MAX_DATA];
};

static char reply_path[sizeof(((struct sockaddr_un *)0)->sun_path)];

static void cleanup(void) {
  if (reply_path[0]) unlink(reply_path);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: vnetlab-mconsole SOCKET < commands\n");
    return 2;
  }
  struct sockaddr_un guest = {.sun_family = AF_UNIX};
  if (strlen(argv[1]) >= sizeof guest.sun_path) {
    fprintf(stderr, "vnetlab-mconsole: socket path too long: %s\n", argv[1]);
    return 2;
  }
  strcpy(guest.sun_path, argv[1]);

  int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  if (fd < 0) {
    perror("vnetlab-mconsole: socket");
    return 3;
  }
  /* The reply socket: beside the guest's, named by our pid ("m" + pid fits where "mconsole" did). */
  struct sockaddr_un self = {.sun_family = AF_UNIX};
  const char *slash = strrchr(argv[1], '/');
  int dir_len = slash ? (int)(slash - argv[1] + 1) : 0;
  if (snprintf(self.sun_path, sizeof self.sun_path, "%.*sm%x", dir_len, argv[1], (unsigned)getpid()) >= (int)sizeof self.sun_path) {
    fprintf(stderr, "vnetlab-mconsole: socket path too long: %s\n", argv[1]);
    return 2;
  }
  unlink(self.sun_path);
  if (bind(fd, (struct sockaddr *)&self, sizeof self) != 0) {
    fprintf(stderr, "vnetlab-mconsole: bind %s: %s\n", self.sun_path, strerror(errno));
    return 3;
  }
  strcpy(reply_path, self.sun_path);
  atexit(cleanup);

  int status = 0;
  char line[MCONSOLE_MAX_DATA + 2];
  while (fgets(line, sizeof line, stdin)) {
    size_t len = strcspn(line, "\n");
    line[len] = 0;
    if (!len) continue;
    if (len > MCONSOLE_MAX_DATA) {
      /* fgets stopped at the buffer's end: a command longer than a request holds */
      fprintf(stderr, "vnetlab-mconsole: a command longer than %d bytes\n", MCONSOLE_MAX_DATA);
      return 2;
    }
    struct request req = {.magic = MCONSOLE_MAGIC, .version = MCONSOLE_VERSION, .len = (uint32_t)len};
    memcpy(req.data, line, len);
    if (sendto(fd, &req, sizeof req, 0, (struct sockaddr *)&guest, sizeof guest) < 0) {
      fprintf(stderr, "vnetlab-mconsole: %s: %s\n", argv[1], strerror(errno));
      return 3;
    }
    printf("%s\n", line); /* echo the command, as uml_mconsole does */
    int first = 1, failed = 0;
    for (;;) {
      struct pollfd p = {.fd = fd, .events = POLLIN};
      if (poll(&p, 1, REPLY_TIMEOUT_MS) <= 0) {
        fprintf(stderr, "vnetlab-mconsole: %s did not answer '%s'\n", argv[1], line);
        return 3;
      }
      struct reply rep;
      ssize_t n = recv(fd, &rep, sizeof rep, 0);
      if (n < (ssize_t)offsetof(struct reply, data)) continue;
      if (rep.len > MCONSOLE_MAX_DATA) rep.len = MCONSOLE_MAX_DATA;
      if (first) {
        failed = rep.err != 0;
        printf("%s ", failed ? "ERR" : "OK");
        first = 0;
      }
      fwrite(rep.data, 1, strnlen(rep.data, rep.len), stdout);
      if (!rep.more) break;
    }
    printf("\n");
    fflush(stdout);
    if (failed) status = 1;
  }
  return status;
}
