/*
 * uml-xstate-fix.so: LD_PRELOAD shim that lets Debian's UML 6.1 kernel run on hosts whose CPUs have
 * AMX (Intel Sapphire Rapids and later).
 *
 * UML saves and restores the FPU state of its guest processes with PTRACE_GETREGSET/SETREGSET
 * (NT_X86_XSTATE) through a buffer sized for pre-AMX CPUs. The host kernel accepts a SETREGSET only
 * with a buffer of the full XSAVE size (11 KB with AMX tiles) and answers EFAULT otherwise: UML then
 * prints "ptrace set fp regs failed, errno = 14" and panics as soon as init runs.
 *
 * This shim passes every other ptrace call through unchanged. For an XSTATE SETREGSET with a short
 * buffer it reads the traced process's full state, lays UML's bytes over its beginning (the legacy
 * area, the XSAVE header and the components UML knows about) and writes the full buffer back, so the
 * components UML does not know about keep the values they had. Built by vnetlab on the host
 * (`cc -shared -fPIC -O2`), used through the wrapper that findKernel() returns.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef NT_X86_XSTATE
#define NT_X86_XSTATE 0x202
#endif

static size_t full_size; /* the host's XSAVE size for ptrace, learnt on first use */

static long raw_ptrace(long request, long pid, void *addr, void *data) {
  return syscall(SYS_ptrace, request, pid, addr, data);
}

/* The size GETREGSET reports when given a buffer larger than any XSAVE area. */
static size_t xstate_size(pid_t pid) {
  if (full_size) return full_size;
  size_t cap = 64 * 1024;
  void *buf = calloc(1, cap);
  if (!buf) return 0;
  struct iovec iov = {buf, cap};
  if (raw_ptrace(PTRACE_GETREGSET, pid, (void *)NT_X86_XSTATE, &iov) == 0) full_size = iov.iov_len;
  free(buf);
  return full_size;
}

long ptrace(enum __ptrace_request request, ...) {
  va_list ap;
  va_start(ap, request);
  pid_t pid = va_arg(ap, pid_t);
  void *addr = va_arg(ap, void *);
  void *data = va_arg(ap, void *);
  va_end(ap);

  if (request == PTRACE_SETREGSET && (long)addr == NT_X86_XSTATE && data) {
    struct iovec *iov = data;
    size_t size = xstate_size(pid);
    if (size && iov->iov_len < size) {
      unsigned char *full = calloc(1, size);
      if (!full) {
        errno = ENOMEM;
        return -1;
      }
      struct iovec whole = {full, size};
      long r = raw_ptrace(PTRACE_GETREGSET, pid, addr, &whole);
      if (r == 0) {
        memcpy(full, iov->iov_base, iov->iov_len);
        whole.iov_len = size;
        r = raw_ptrace(PTRACE_SETREGSET, pid, addr, &whole);
      }
      int saved = errno;
      free(full);
      errno = saved;
      return r;
    }
  }
  static long (*real)(enum __ptrace_request, ...);
  if (!real) real = (long (*)(enum __ptrace_request, ...))dlsym(RTLD_NEXT, "ptrace");
  return real(request, pid, addr, data);
}
