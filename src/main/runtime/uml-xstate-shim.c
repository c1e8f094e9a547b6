/*
 * vnetlab-uml-shim: run the UML kernel with its extended-FPU-state probe refused.
 *
 * UML 6.1 saves and restores its processes' FPU registers with ptrace(PTRACE_SETREGSET,
 * NT_X86_XSTATE) using an 832-byte buffer. Hosts whose XSAVE area is larger (AVX-512, PKU, AMX)
 * reject that with EFAULT and the guest's init dies ("ptrace set fp regs failed, errno = 14").
 * When the probe PTRACE_GETREGSET(NT_X86_XSTATE) fails at boot, UML falls back to the 512-byte
 * PTRACE_{GET,SET}FPREGS path, which every host accepts. This shim makes exactly that probe fail
 * (seccomp filter, EIO) and execs the kernel; everything else passes through. The runtime pairs
 * it with GLIBC_TUNABLES on the kernel command line so guest programs do not use AVX registers
 * that the fallback path would not preserve.
 */
#include <elf.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s KERNEL [ARGS...]\n", argv[0]);
    return 2;
  }
  struct sock_filter filter[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_ptrace, 0, 5),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PTRACE_GETREGSET, 0, 3),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NT_X86_XSTATE, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EIO),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog program = { sizeof filter / sizeof filter[0], filter };
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) {
    perror("vnetlab-uml-shim: seccomp");
    return 126;
  }
  execv(argv[1], argv + 1);
  perror("vnetlab-uml-shim: exec");
  return 127;
}
