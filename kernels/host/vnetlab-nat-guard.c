/*
 * vnetlab-nat-guard.so: preloaded into host NAT (slirpvde), so that guests reach the internet through
 * it but never the host itself.
 *
 * slirp maps the guests' gateway 10.0.2.2 to the host's 127.0.0.1, and it would connect to any address
 * of the host a guest names: the front door of a classroom, a database bound to loopback, the cloud's
 * metadata service. This shim wraps connect(), sendto() and sendmsg() and refuses every destination
 * that is this host: loopback (127/8, ::1), the unspecified address, link-local (169.254/16, fe80::/10,
 * where cloud metadata lives), and every address of the host's own interfaces (re-read every few
 * seconds). The one exception is DNS (port 53) to the nameservers of /etc/resolv.conf, which slirp's
 * DNS forwarder (10.0.2.3) needs even when the resolver is a local one (127.0.0.53).
 *
 * Refused: connect() fails with ECONNREFUSED, a datagram with EPERM; slirp answers the guest as for
 * any unreachable host. Built by vnetlab with `cc -shared -fPIC -O2` (src/main/images/host-helpers.ts).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define MAX_ADDRS 256
#define REFRESH_SECONDS 5

struct addr {
  int family;
  unsigned char bytes[16];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct addr own[MAX_ADDRS];
static int own_count;
static struct addr dns[8];
static int dns_count;
static time_t read_at;

static void add(struct addr *list, int *count, int max, int family, const void *bytes) {
  if (*count >= max) return;
  list[*count].family = family;
  memcpy(list[*count].bytes, bytes, family == AF_INET ? 4 : 16);
  (*count)++;
}

/* The host's own addresses and the resolver's, re-read when older than REFRESH_SECONDS. */
static void refresh(void) {
  time_t now = time(NULL);
  if (read_at && now - read_at < REFRESH_SECONDS) return;
  read_at = now;
  own_count = 0;
  struct ifaddrs *ifs;
  if (getifaddrs(&ifs) == 0) {
    for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
      if (!i->ifa_addr) continue;
      if (i->ifa_addr->sa_family == AF_INET) add(own, &own_count, MAX_ADDRS, AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr);
      else if (i->ifa_addr->sa_family == AF_INET6) add(own, &own_count, MAX_ADDRS, AF_INET6, &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr);
    }
    freeifaddrs(ifs);
  }
  dns_count = 0;
  FILE *f = fopen("/etc/resolv.conf", "r");
  if (f) {
    char line[256], host[128];
    while (fgets(line, sizeof line, f)) {
      if (sscanf(line, " nameserver %127s", host) != 1) continue;
      unsigned char bytes[16];
      if (inet_pton(AF_INET, host, bytes) == 1) add(dns, &dns_count, 8, AF_INET, bytes);
      else if (inet_pton(AF_INET6, host, bytes) == 1) add(dns, &dns_count, 8, AF_INET6, bytes);
    }
    fclose(f);
  }
}

static int listed(const struct addr *list, int count, int family, const unsigned char *bytes) {
  for (int i = 0; i < count; i++)
    if (list[i].family == family && !memcmp(list[i].bytes, bytes, family == AF_INET ? 4 : 16)) return 1;
  return 0;
}

/* 1 when the destination is this host (or link-local), and not the resolver's DNS port. */
static int is_host(const struct sockaddr *sa, socklen_t len) {
  if (!sa) return 0;
  int family = sa->sa_family;
  unsigned char bytes[16];
  unsigned port;
  if (family == AF_INET && len >= sizeof(struct sockaddr_in)) {
    const struct sockaddr_in *in = (const void *)sa;
    memcpy(bytes, &in->sin_addr, 4);
    port = ntohs(in->sin_port);
  } else if (family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
    const struct sockaddr_in6 *in6 = (const void *)sa;
    port = ntohs(in6->sin6_port);
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      family = AF_INET;
      memcpy(bytes, in6->sin6_addr.s6_addr + 12, 4);
    } else {
      memcpy(bytes, &in6->sin6_addr, 16);
    }
  } else {
    return 0; /* Unix sockets (the switch), or nothing we know */
  }
  int refuse;
  pthread_mutex_lock(&lock);
  refresh();
  if (family == AF_INET)
    refuse = bytes[0] == 127 || bytes[0] == 0 || (bytes[0] == 169 && bytes[1] == 254) || listed(own, own_count, AF_INET, bytes);
  else {
    static const unsigned char any[16], loop[16] = {[15] = 1};
    refuse = !memcmp(bytes, any, 16) || !memcmp(bytes, loop, 16) || (bytes[0] == 0xfe && (bytes[1] & 0xc0) == 0x80) ||
             listed(own, own_count, AF_INET6, bytes);
  }
  if (refuse && port == 53 && listed(dns, dns_count, family, bytes)) refuse = 0;
  pthread_mutex_unlock(&lock);
  return refuse;
}

int connect(int fd, const struct sockaddr *sa, socklen_t len) {
  static int (*real)(int, const struct sockaddr *, socklen_t);
  if (!real) real = dlsym(RTLD_NEXT, "connect");
  if (is_host(sa, len)) {
    errno = ECONNREFUSED;
    return -1;
  }
  return real(fd, sa, len);
}

ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *sa, socklen_t len) {
  static ssize_t (*real)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
  if (!real) real = dlsym(RTLD_NEXT, "sendto");
  if (is_host(sa, len)) {
    errno = EPERM;
    return -1;
  }
  return real(fd, buf, n, flags, sa, len);
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags) {
  static ssize_t (*real)(int, const struct msghdr *, int);
  if (!real) real = dlsym(RTLD_NEXT, "sendmsg");
  if (msg && is_host(msg->msg_name, msg->msg_namelen)) {
    errno = EPERM;
    return -1;
  }
  return real(fd, msg, flags);
}
