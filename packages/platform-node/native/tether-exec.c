/*
 * tether-exec: the exec helper of @tether/platform-node.
 *
 * Node spawns it in place of a command, in a new session (so its pid is the command's process group
 * id), with the command's stdio already in place and one more fd, the control channel:
 *
 *   tether-exec -c CTL [options] -- FILE ARGV0 ARGS...
 *
 * Without -D it supervises the command. It forks the target, which leads a process group of its own,
 * applies the settings between fork and exec and execs FILE; it reports "pid N" (or "error STEP ERRNO
 * [DETAIL]"). When the target ends it reports "exit CODE" or "signal SIGNO CORE", or, if nothing else is
 * left, simply ends with the target's wait status as its own. Node signals the target's group itself.
 * As child subreaper of everything the target starts, the supervisor reaps orphans as they die. When
 * Node closes the channel (the scope closed, or Node died) it sends the kill signal to every descendant
 * left, waits the grace period, SIGKILLs the rest, reaps them and exits; it also exits on its own once
 * the target has ended and no descendant is left.
 *
 * With -D it starts a daemon: double fork, setsid, cwd "/", the pid file written and locked by the
 * daemon itself, no parent-death signal, no supervision. The daemon reports "pid N" before it execs and
 * "error ..." if exec fails; the channel closes when it execs.
 *
 * Options: -m UMASK (octal), -l RESOURCE:SOFT:HARD (numbers or "inf"), -u UID, -g GID, -x (clear every
 * capability set), -n (no new privileges), -k FD (keep open in the target), -d FROM:TO (dup2 in the
 * target), -s SIGNO and -t MS (kill signal and grace period of the cleanup), -C DIR (working directory
 * of the target), -D (daemon), -p PATH (pid file, with -D). Under the fork server only: -h FD (the hold
 * pipe: its end of file, not the channel's, stops the command), -N FD (/dev/null on FD), -o
 * FD:FLAGS:PATH (PATH opened with the octal open(2) FLAGS on FD).
 *
 * With -S CTL it is instead the fork server, one per Node process, which forks a supervisor for every
 * command Node sends it (see "the fork server" below).
 *
 * Built with TETHER_NOLIBC (x86_64) it uses no C library at all: on virtual machines glibc's start-up
 * alone (CPU feature probing through trapping CPUID) costs more than the rest of a spawn. Elsewhere it
 * reaches the kernel through libc's syscall(). Either way every system call goes through sys() below,
 * which returns -errno on failure.
 */
#ifndef __linux__
#error "tether-exec needs Linux (prctl, signalfd, /proc); Tether runs without it elsewhere"
#endif
#if defined(TETHER_NOLIBC) && !defined(__x86_64__)
#error "the freestanding build is for x86_64; build without TETHER_NOLIBC"
#endif

#include <asm/signal.h>
#include <asm/unistd.h>
#include <linux/capability.h>
#include <linux/fcntl.h>
#include <linux/poll.h>
#include <linux/prctl.h>
#include <linux/resource.h>
#include <linux/wait.h>

#ifndef __NR_close_range
#define __NR_close_range 436
#endif
#ifdef __NR_setresuid32
#define NR_setresuid __NR_setresuid32
#define NR_setresgid __NR_setresgid32
#define NR_setgroups __NR_setgroups32
#else
#define NR_setresuid __NR_setresuid
#define NR_setresgid __NR_setresgid
#define NR_setgroups __NR_setgroups
#endif

/* The kernel's sigset_t: 64 signals everywhere but MIPS. */
#ifdef __mips__
#define SIGSET_BYTES 16
#else
#define SIGSET_BYTES 8
#endif
#define SIGSET_WORDS (SIGSET_BYTES / sizeof(long))

#define EINTR 4
#define ESRCH 3
#define EAGAIN 11
#define EACCES 13
#define EINVAL 22
#define ENOSYS 38
#define ENOEXEC 8
#define E2BIG 7

/* ---- the kernel interface ---- */

#ifdef TETHER_NOLIBC

static long sys(long n, long a, long b, long c, long d, long e, long f) {
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  long ret;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
}

/* vfork must not return through a stack frame the child may have reused: keep the return address in a
 * register across the system call, as C libraries do. */
long tether_vfork(void) __attribute__((returns_twice));
__asm__(".text\n"
        ".globl tether_vfork\n"
        "tether_vfork:\n"
        "  pop %rdi\n"
        "  mov $58, %eax\n"
        "  syscall\n"
        "  push %rdi\n"
        "  ret\n");

int main(int argc, char **argv, char **envp);

void tether_start(long *sp) __attribute__((noreturn, used));
void tether_start(long *sp) {
  int argc = (int)sp[0];
  char **argv = (char **)(sp + 1);
  int code = main(argc, argv, argv + argc + 1);
  for (;;) sys(__NR_exit_group, code, 0, 0, 0, 0, 0);
}

static long tether_fork(void) { return sys(__NR_clone, SIGCHLD, 0, 0, 0, 0, 0); }
__asm__(".text\n"
        ".globl _start\n"
        "_start:\n"
        "  xor %rbp, %rbp\n"
        "  mov %rsp, %rdi\n"
        "  and $-16, %rsp\n"
        "  call tether_start\n"
        "  hlt\n");

/* The compiler may emit calls to these for struct copies and zeroing. */
void *memset(void *dst, int c, unsigned long n) {
  volatile unsigned char *d = dst;
  while (n--) *d++ = (unsigned char)c;
  return dst;
}
void *memcpy(void *dst, const void *src, unsigned long n) {
  volatile unsigned char *d = dst;
  const unsigned char *s = src;
  while (n--) *d++ = *s++;
  return dst;
}
void *memmove(void *dst, const void *src, unsigned long n) {
  volatile unsigned char *d = dst;
  const unsigned char *s = src;
  if (d < s)
    while (n--) *d++ = *s++;
  else
    while (n--) d[n] = s[n];
  return dst;
}

#else

#include <errno.h>
#include <string.h>
#include <unistd.h>

static long sys(long n, long a, long b, long c, long d, long e, long f) {
  long r = syscall(n, a, b, c, d, e, f);
  return r == -1 ? -errno : r;
}

#define tether_vfork vfork

static long tether_fork(void) {
  long pid = fork();
  return pid < 0 ? -errno : pid;
}

#endif

#define sys0(n) sys(n, 0, 0, 0, 0, 0, 0)
#define sys1(n, a) sys(n, (long)(a), 0, 0, 0, 0, 0)
#define sys2(n, a, b) sys(n, (long)(a), (long)(b), 0, 0, 0, 0)
#define sys3(n, a, b, c) sys(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define sys4(n, a, b, c, d) sys(n, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define sys5(n, a, b, c, d, e) sys(n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)

static long open_file(const char *path, long flags, long mode) {
  return sys4(__NR_openat, AT_FDCWD, path, flags, mode);
}

/* ---- small text helpers (no C library) ---- */

static int same(const char *a, const char *b) {
  while (*a && *a == *b) a++, b++;
  return *a == *b;
}

/* Parses a whole word as a non-negative number; returns 0 on success. */
static int parse_number(const char *s, unsigned long long base, unsigned long long *out) {
  unsigned long long n = 0;
  if (!*s) return -1;
  for (; *s; s++) {
    unsigned long long digit = (unsigned long long)(*s - '0');
    if (*s < '0' || digit >= base) return -1;
    if (n > (~0ULL - digit) / base) return -1;
    n = n * base + digit;
  }
  *out = n;
  return 0;
}

struct text {
  char buf[8192];
  unsigned long len;
};

static void put(struct text *t, const char *s) {
  while (*s && t->len < sizeof t->buf - 1) t->buf[t->len++] = *s++;
}

static void put_number(struct text *t, long n) {
  char digits[24];
  int k = 0;
  unsigned long u = n < 0 ? -(unsigned long)n : (unsigned long)n;
  if (n < 0) put(t, "-");
  do digits[k++] = (char)('0' + u % 10), u /= 10;
  while (u);
  while (k && t->len < sizeof t->buf - 1) t->buf[t->len++] = digits[--k];
}

static void send_line(int fd, struct text *t) {
  t->buf[t->len++] = '\n';
  for (unsigned long off = 0; off < t->len;) {
    long w = sys3(__NR_write, fd, t->buf + off, t->len - off);
    if (w == -EINTR) continue;
    if (w <= 0) return;
    off += (unsigned long)w;
  }
}

/* ---- the plan: the settings, from the arguments ---- */

#define MAX_LIMITS 32
#define MAX_FDS 256

struct limit {
  const char *name;
  int resource;
  unsigned long long soft;
  unsigned long long hard;
};

struct open_spec {
  int fd;
  long flags;
  const char *path; /* 0: /dev/null */
};

struct plan {
  int ctl;
  int hold;
  struct open_spec opens[MAX_FDS];
  int nopens;
  int daemon;
  const char *pid_file;
  const char *dir;
  long umask;
  struct limit limits[MAX_LIMITS];
  int nlimits;
  long uid;
  long gid;
  int clear_caps;
  int no_new_privs;
  int keep[MAX_FDS + 2];
  int nkeep;
  int dups[MAX_FDS][2];
  int ndups;
  int kill_signal;
  long grace_ms;
  const char *file;
  char **argv;
  char **envp;
};

static const struct {
  const char *name;
  int resource;
} resources[] = {
    {"as", RLIMIT_AS},
    {"core", RLIMIT_CORE},
    {"cpu", RLIMIT_CPU},
    {"data", RLIMIT_DATA},
    {"fsize", RLIMIT_FSIZE},
    {"locks", RLIMIT_LOCKS},
    {"memlock", RLIMIT_MEMLOCK},
    {"msgqueue", RLIMIT_MSGQUEUE},
    {"nice", RLIMIT_NICE},
    {"nofile", RLIMIT_NOFILE},
    {"nproc", RLIMIT_NPROC},
    {"rss", RLIMIT_RSS},
    {"rtprio", RLIMIT_RTPRIO},
    {"rttime", RLIMIT_RTTIME},
    {"sigpending", RLIMIT_SIGPENDING},
    {"stack", RLIMIT_STACK},
};

/* A bad argument is Tether's bug, not the caller's: report it where Node will read it, then stop. */
static void usage(int ctl, const char *problem, const char *word) __attribute__((noreturn));
static void usage(int ctl, const char *problem, const char *word) {
  struct text t;
  t.len = 0;
  put(&t, "error usage ");
  put_number(&t, EINVAL);
  put(&t, " ");
  put(&t, problem);
  put(&t, " ");
  put(&t, word);
  send_line(ctl >= 0 ? ctl : 2, &t);
  for (;;) sys1(__NR_exit_group, 2);
}

static long number(int ctl, const char *word, int base, long max) {
  unsigned long long n = 0;
  if (parse_number(word, (unsigned long long)base, &n) < 0 || n > (unsigned long long)max)
    usage(ctl, "not a number:", word);
  return (long)n;
}

static unsigned long long limit_value(int ctl, char *word) {
  unsigned long long n = 0;
  if (same(word, "inf")) return RLIM_INFINITY;
  if (parse_number(word, 10, &n) < 0) usage(ctl, "not a limit:", word);
  return n;
}

/* RESOURCE:SOFT:HARD. The word is split in place. */
static void parse_limit(struct plan *p, char *word) {
  if (p->nlimits == MAX_LIMITS) usage(p->ctl, "too many limits:", word);
  char *soft = word;
  while (*soft && *soft != ':') soft++;
  char *hard = *soft ? soft + 1 : soft;
  while (*hard && *hard != ':') hard++;
  if (!*soft || !*hard) usage(p->ctl, "a limit is RESOURCE:SOFT:HARD:", word);
  *soft++ = '\0';
  *hard++ = '\0';
  struct limit *l = &p->limits[p->nlimits];
  l->name = 0;
  for (unsigned long i = 0; i < sizeof resources / sizeof resources[0]; i++) {
    if (same(word, resources[i].name)) {
      l->name = resources[i].name;
      l->resource = resources[i].resource;
    }
  }
  if (!l->name) usage(p->ctl, "not a resource:", word);
  l->soft = limit_value(p->ctl, soft);
  l->hard = limit_value(p->ctl, hard);
  p->nlimits++;
}

static void parse(struct plan *p, int argc, char **argv, char **envp) {
  memset(p, 0, sizeof *p);
  p->ctl = -1;
  p->hold = -1;
  p->umask = -1;
  p->uid = -1;
  p->gid = -1;
  p->kill_signal = SIGTERM;
  p->grace_ms = 2000;
  p->envp = envp;
  int i = 1;
  for (; i < argc && !same(argv[i], "--"); i++) {
    const char *o = argv[i];
    if (o[0] != '-' || o[1] == '\0' || o[2] != '\0') usage(p->ctl, "unknown option:", o);
    if (o[1] == 'D') {
      p->daemon = 1;
      continue;
    }
    if (o[1] == 'x') {
      p->clear_caps = 1;
      continue;
    }
    if (o[1] == 'n') {
      p->no_new_privs = 1;
      continue;
    }
    if (i + 1 >= argc) usage(p->ctl, "missing value for", o);
    char *v = argv[++i];
    switch (o[1]) {
      case 'c': p->ctl = (int)number(-1, v, 10, 1 << 30); break;
      case 'h': p->hold = (int)number(p->ctl, v, 10, 1 << 30); break;
      case 'N':
      case 'o': {
        if (p->nopens == MAX_FDS) usage(p->ctl, "too many opens:", v);
        struct open_spec *spec = &p->opens[p->nopens];
        if (o[1] == 'N') {
          spec->fd = (int)number(p->ctl, v, 10, 1 << 30);
          spec->flags = O_RDWR;
          spec->path = 0;
        } else {
          /* FD:FLAGS:PATH, FLAGS in octal; the path may hold colons. */
          char *flags = v;
          while (*flags && *flags != ':') flags++;
          char *path = *flags ? flags + 1 : flags;
          while (*path && *path != ':') path++;
          if (!*flags || !*path) usage(p->ctl, "an open is FD:FLAGS:PATH:", v);
          *flags++ = '\0';
          *path++ = '\0';
          spec->fd = (int)number(p->ctl, v, 10, 1 << 30);
          spec->flags = number(p->ctl, flags, 8, 0x7fffffff);
          spec->path = path;
        }
        p->nopens++;
        break;
      }
      case 'p': p->pid_file = v; break;
      case 'C': p->dir = v; break;
      case 'm': p->umask = number(p->ctl, v, 8, 0777); break;
      case 'l': parse_limit(p, v); break;
      case 'u': p->uid = number(p->ctl, v, 10, 0xfffffffe); break;
      case 'g': p->gid = number(p->ctl, v, 10, 0xfffffffe); break;
      case 's': p->kill_signal = (int)number(p->ctl, v, 10, 64); break;
      case 't': p->grace_ms = number(p->ctl, v, 10, 1L << 40); break;
      case 'k':
        if (p->nkeep == MAX_FDS) usage(p->ctl, "too many fds:", v);
        p->keep[p->nkeep++] = (int)number(p->ctl, v, 10, 1 << 30);
        break;
      case 'd': {
        if (p->ndups == MAX_FDS) usage(p->ctl, "too many dups:", v);
        char *to = v;
        while (*to && *to != ':') to++;
        if (!*to) usage(p->ctl, "a dup is FROM:TO:", v);
        *to++ = '\0';
        p->dups[p->ndups][0] = (int)number(p->ctl, v, 10, 1 << 30);
        p->dups[p->ndups][1] = (int)number(p->ctl, to, 10, 1 << 30);
        p->ndups++;
        break;
      }
      default: usage(p->ctl, "unknown option:", o);
    }
  }
  if (i + 2 >= argc) usage(p->ctl, "missing FILE ARGV0 after", "--");
  p->file = argv[i + 1];
  p->argv = &argv[i + 2];
}

static void sort_fds(int *fds, int n) {
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && fds[j - 1] > fds[j]; j--) {
      int t = fds[j];
      fds[j] = fds[j - 1];
      fds[j - 1] = t;
    }
}

/* ---- the target: the settings between fork and exec ---- */

/* What went wrong before exec, read by the parent (through shared memory after vfork). */
struct failure {
  const char *step;
  const char *detail;
  long err;
};

static void report_failure(int ctl, const struct failure *f) {
  struct text t;
  t.len = 0;
  put(&t, "error ");
  put(&t, f->step);
  put(&t, " ");
  put_number(&t, f->err);
  if (f->detail) {
    put(&t, " ");
    put(&t, f->detail);
  }
  send_line(ctl, &t);
}

static int failed(struct failure *f, const char *step, const char *detail, long result) {
  f->step = step;
  f->detail = detail;
  f->err = -result;
  return -1;
}

struct dirent64 {
  unsigned long long ino;
  long long off;
  unsigned short reclen;
  unsigned char type;
  char name[];
};

static int kept(const struct plan *p, long fd) {
  for (int i = 0; i < p->nkeep; i++)
    if (p->keep[i] == fd) return 1;
  return 0;
}

/* For kernels before close_range (5.9): list /proc/self/fd, without allocating. */
static long close_listed(const struct plan *p) {
  long dir = open_file("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (dir < 0) return dir;
  char buf[2048];
  long n;
  while ((n = sys3(__NR_getdents64, dir, buf, sizeof buf)) > 0) {
    for (long off = 0; off < n;) {
      struct dirent64 *entry = (struct dirent64 *)(buf + off);
      off += entry->reclen;
      unsigned long long fd;
      if (parse_number(entry->name, 10, &fd) < 0 || fd <= 2 || (long)fd == dir || kept(p, (long)fd)) continue;
      sys1(__NR_close, fd);
    }
  }
  sys1(__NR_close, dir);
  return n;
}

/* Closes every fd but 0, 1, 2 and the kept ones (sorted). */
static long close_others(const struct plan *p) {
  unsigned long from = 3;
  for (int i = 0; i <= p->nkeep; i++) {
    unsigned long next = i < p->nkeep ? (unsigned long)p->keep[i] : ~0UL;
    if (next < from) continue;
    if (next > from) {
      long r = sys3(__NR_close_range, from, next == ~0UL ? ~0U : next - 1, 0);
      if (r == -ENOSYS || r == -EINVAL) return close_listed(p);
      if (r < 0) return r;
    }
    if (next == ~0UL) break;
    from = next + 1;
  }
  return 0;
}

static void unblock_signals(void) {
  unsigned long none[SIGSET_WORDS] = {0};
  sys4(__NR_rt_sigprocmask, SIG_SETMASK, none, 0, sizeof none);
}

/*
 * Turns the calling child into the target: applies every setting in order, then execs. Returns only on
 * failure, with `f` naming the step. `parent` is the pid whose death must kill the target (0: none).
 * Runs in a vfork child: system calls only, no allocation, nothing that takes a lock.
 */
static void become_target(const struct plan *p, struct failure *f, long parent) {
  long r;
  if (parent != 0 && (r = sys2(__NR_setpgid, 0, 0)) < 0) {
    failed(f, "setpgid", 0, r);
    return;
  }
  for (int i = 0; i < p->ndups; i++) {
    int from = p->dups[i][0], to = p->dups[i][1];
    r = from == to ? sys3(__NR_fcntl, from, F_SETFD, 0) : sys3(__NR_dup3, from, to, 0);
    if (r < 0) {
      failed(f, "dup", 0, r);
      return;
    }
  }
  if (p->umask >= 0) sys1(__NR_umask, p->umask);
  for (int i = 0; i < p->nlimits; i++) {
    unsigned long long limit[2] = {p->limits[i].soft, p->limits[i].hard};
    r = sys4(__NR_prlimit64, 0, p->limits[i].resource, limit, 0);
    if (r < 0) {
      failed(f, "limit", p->limits[i].name, r);
      return;
    }
  }
  if (p->dir && (r = sys1(__NR_chdir, p->dir)) < 0) {
    failed(f, "cwd", 0, r);
    return;
  }
  /* Supplementary groups go first, while the process may still change them. */
  if ((p->uid >= 0 || p->gid >= 0) && (r = sys2(NR_setgroups, 0, 0)) < 0) {
    failed(f, "setgroups", 0, r);
    return;
  }
  if (p->gid >= 0 && (r = sys3(NR_setresgid, p->gid, p->gid, p->gid)) < 0) {
    failed(f, "group", 0, r);
    return;
  }
  if (p->clear_caps) {
    /* EINVAL: a kernel without ambient capabilities has none to clear. */
    r = sys5(__NR_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    if (r < 0 && r != -EINVAL) {
      failed(f, "ambient", 0, r);
      return;
    }
    /* Dropping from the bounding set needs CAP_SETPCAP, so it comes before the uid changes. */
    for (long cap = 0; sys5(__NR_prctl, PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++) {
      if ((r = sys5(__NR_prctl, PR_CAPBSET_DROP, cap, 0, 0, 0)) < 0) {
        failed(f, "bounding", 0, r);
        return;
      }
    }
  }
  if (p->uid >= 0 && (r = sys3(NR_setresuid, p->uid, p->uid, p->uid)) < 0) {
    failed(f, "user", 0, r);
    return;
  }
  if (p->clear_caps) {
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2] = {{0, 0, 0}, {0, 0, 0}};
    if ((r = sys2(__NR_capset, &header, data)) < 0) {
      failed(f, "caps", 0, r);
      return;
    }
  }
  if (p->no_new_privs && (r = sys5(__NR_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) < 0) {
    failed(f, "nnp", 0, r);
    return;
  }
  /* After the credential changes, which clear it; by then the parent may be gone already. */
  if (parent != 0) {
    if ((r = sys5(__NR_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0)) < 0) {
      failed(f, "pdeathsig", 0, r);
      return;
    }
    if (sys0(__NR_getppid) != parent) {
      failed(f, "pdeathsig", 0, -ESRCH);
      return;
    }
  }
  if ((r = close_others(p)) < 0) {
    failed(f, "fds", 0, r);
    return;
  }
  unblock_signals();
  r = sys3(__NR_execve, p->file, p->argv, p->envp);
  if (r == -ENOEXEC) {
    /* Like execvp (and so Node's spawn): a file without a #! line is a script for /bin/sh. */
    const char *program = p->argv[0];
    p->argv[-1] = "/bin/sh";
    p->argv[0] = (char *)p->file;
    sys3(__NR_execve, "/bin/sh", p->argv - 1, p->envp);
    p->argv[0] = (char *)program;
  }
  failed(f, "exec", 0, r);
}

/* ---- the supervisor ---- */

struct state {
  const struct plan *plan;
  long self;
  long target;
  int target_done;
  long signals;
};

static long now_ms(void) {
  long t[2];
  sys2(__NR_clock_gettime, 1 /* CLOCK_MONOTONIC */, t);
  return t[0] * 1000L + t[1] / 1000000L;
}

static void wait_for_signal(struct state *s, long ms) {
  struct pollfd pf = {(int)s->signals, POLLIN, 0};
  long t[2] = {ms / 1000, (ms % 1000) * 1000000L};
  sys5(__NR_ppoll, &pf, 1, ms < 0 ? 0 : t, 0, 0);
  char info[128 * 8];
  while (sys3(__NR_read, s->signals, info, sizeof info) > 0) {
  }
}

/* Whether any child is left, reaped or not; the kernel's view, without waiting or reaping. */
static int children_left(void) {
  char info[128];
  return sys5(__NR_waitid, 0 /* P_ALL */, 0, info, WEXITED | WNOHANG | WNOWAIT, 0) == 0;
}

/*
 * Ends the supervisor with the target's own wait status, once nothing else is left: Node then learns the
 * status and the end of everything in one event. A signal is raised again, without a core of our own.
 */
static void exit_as(int status) {
  if ((status & 0x7f) == 0) sys1(__NR_exit_group, (status >> 8) & 0xff);
  int signal = status & 0x7f;
  unsigned long long no_core[2] = {0, 0};
  sys4(__NR_prlimit64, 0, RLIMIT_CORE, no_core, 0);
  unsigned long dfl[8] = {0};
  sys4(__NR_rt_sigaction, signal, dfl, 0, SIGSET_BYTES);
  unsigned long mask[SIGSET_WORDS] = {0};
  mask[(signal - 1) / (8 * sizeof(long))] = 1UL << ((signal - 1) % (8 * sizeof(long)));
  sys2(__NR_kill, sys0(__NR_getpid), signal);
  sys4(__NR_rt_sigprocmask, SIG_UNBLOCK, mask, 0, sizeof mask);
  sys1(__NR_exit_group, 128 + signal);
}

/*
 * Reaps every child that has ended. The target's status is reported as a line, or, when nothing else is
 * left and no core was dumped, as the supervisor's own. Returns whether any child is left.
 */
static int reap(struct state *s) {
  for (;;) {
    int status = 0;
    long pid = sys4(__NR_wait4, -1, &status, WNOHANG, 0);
    if (pid == -EINTR) continue;
    if (pid < 0) return 0;
    if (pid == 0) return 1;
    if (pid == s->target && !s->target_done) {
      s->target_done = 1;
      /* Under the fork server nobody sees this process's status: the report is the only one. */
      if (s->plan->hold < 0 && !(status & 0x80) && !children_left()) exit_as(status);
      struct text t;
      t.len = 0;
      if ((status & 0x7f) == 0) {
        put(&t, "exit ");
        put_number(&t, (status >> 8) & 0xff);
      } else {
        put(&t, "signal ");
        put_number(&t, status & 0x7f);
        put(&t, (status & 0x80) ? " 1" : " 0");
      }
      send_line(s->plan->ctl, &t);
    }
  }
}

#define MAX_DESCENDANTS 65536
static int descendants[MAX_DESCENDANTS];

static void append_path(struct text *t, const char *a, long n, const char *b) {
  t->len = 0;
  put(t, a);
  put_number(t, n);
  put(t, b);
  t->buf[t->len] = '\0';
}

/* Appends the children of every thread of `pid`, as the kernel lists them; returns the new count. */
static int children_of(long pid, int count) {
  struct text path;
  path.len = 0;
  append_path(&path, "/proc/", pid, "/task");
  long dir = open_file(path.buf, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (dir < 0) return count;
  char buf[2048];
  long n;
  while ((n = sys3(__NR_getdents64, dir, buf, sizeof buf)) > 0) {
    for (long off = 0; off < n;) {
      struct dirent64 *entry = (struct dirent64 *)(buf + off);
      off += entry->reclen;
      unsigned long long tid;
      if (parse_number(entry->name, 10, &tid) < 0) continue;
      append_path(&path, "/proc/", pid, "/task/");
      put(&path, entry->name);
      put(&path, "/children");
      path.buf[path.len] = '\0';
      long fd = open_file(path.buf, O_RDONLY | O_CLOEXEC, 0);
      if (fd < 0) continue;
      char list[4096];
      long got;
      unsigned long long child = 0;
      int digits = 0;
      while ((got = sys3(__NR_read, fd, list, sizeof list)) > 0) {
        for (long i = 0; i < got; i++) {
          if (list[i] >= '0' && list[i] <= '9') {
            child = child * 10 + (unsigned long long)(list[i] - '0');
            digits = 1;
          } else if (digits) {
            if (count < MAX_DESCENDANTS) descendants[count++] = (int)child;
            child = 0;
            digits = 0;
          }
        }
      }
      if (digits && count < MAX_DESCENDANTS) descendants[count++] = (int)child;
      sys1(__NR_close, fd);
    }
  }
  sys1(__NR_close, dir);
  return count;
}

/* Sends `signal` to every live descendant. The walk follows parentage, so it finds those that left
 * the target's process group, even its session. */
static void signal_descendants(struct state *s, int signal) {
  int count = children_of(s->self, 0);
  for (int i = 0; i < count; i++) {
    long pid = descendants[i];
    count = children_of(pid, count);
    sys2(__NR_kill, pid, signal);
  }
}

/* Node's pid: the server's parent under the fork server, else the supervisor's own parent. */
static long node_pid;

/*
 * Reads Node's /proc status once: whether Node has ended (gone, or a zombie), and, with `take_umask`, its
 * umask of the moment, which this process takes (the server's is the one Node had when it started it).
 */
static int node_status(int take_umask) {
  struct text path;
  append_path(&path, "/proc/", node_pid, "/status");
  long fd = open_file(path.buf, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) return 1;
  char status[4096];
  long n = sys3(__NR_read, fd, status, sizeof status - 1);
  sys1(__NR_close, fd);
  if (n <= 0) return 1;
  status[n] = '\0';
  int gone = 0;
  for (char *line = status; *line;) {
    char *end = line;
    while (*end && *end != '\n') end++;
    char *value = line;
    while (value < end && *value != ':') value++;
    if (value < end) {
      *value++ = '\0';
      while (*value == ' ' || *value == '\t') value++;
      if (same(line, "State")) gone = *value == 'Z' || *value == 'X';
      if (same(line, "Umask") && take_umask) {
        long mask = 0;
        for (char *c = value; *c >= '0' && *c <= '7'; c++) mask = mask * 8 + (*c - '0');
        sys1(__NR_umask, mask & 0777);
      }
    }
    line = *end ? end + 1 : end;
  }
  return gone;
}

/* Whether Node has ended (gone, or a zombie its parent has not reaped yet). */
static int node_gone(void) { return node_pid > 0 && node_status(0); }

/*
 * The channel closed: stop whatever is left, gracefully first, then for sure. If Node itself has ended
 * (it exited, or was killed), nothing waits for a graceful stop any more: what is left is killed at
 * once, as Node's own exit handler does with the groups it knows.
 */
static void clean_up(struct state *s) {
  if (!reap(s)) return;
  if (!node_gone()) {
    signal_descendants(s, s->plan->kill_signal);
    long deadline = now_ms() + s->plan->grace_ms;
    while (reap(s)) {
      long left = deadline - now_ms();
      /* Node may end during the grace period: its end was only beginning when the channel closed. */
      if (left <= 0 || node_gone()) break;
      wait_for_signal(s, left < 50 ? left : 50);
    }
  }
  /* A process forked between one walk and its parent's death is found by the next. */
  while (reap(s)) {
    signal_descendants(s, SIGKILL);
    wait_for_signal(s, 20);
  }
}

/* vfork: the supervisor sleeps until the target has exec'd or failed, and shares its memory meanwhile. */
static long start_target(struct plan *p, struct failure *f, long self) __attribute__((noinline));
static long start_target(struct plan *p, struct failure *f, long self) {
  long pid = tether_vfork();
  if (pid == 0) {
    become_target(p, f, self);
    sys1(__NR_exit_group, 127);
  }
#ifndef TETHER_NOLIBC
  if (pid < 0) pid = -errno;
#endif
  return pid;
}

static int supervise(struct plan *p) {
  struct state s = {p, sys0(__NR_getpid), 0, 0, -1};
  struct text t;
  t.len = 0;

  /* SIGCHLD must not be ignored (its children would vanish unreaped); all signals go to a signalfd, so a
   * SIGTERM meant for the group does not stop the supervisor. */
  unsigned long dfl[8] = {0};
  sys4(__NR_rt_sigaction, SIGCHLD, dfl, 0, SIGSET_BYTES);
  unsigned long all[SIGSET_WORDS];
  for (unsigned long i = 0; i < sizeof all / sizeof all[0]; i++) all[i] = ~0UL;
  s.signals = sys4(__NR_signalfd4, -1, all, sizeof all, O_CLOEXEC | O_NONBLOCK);
  long r = s.signals < 0 ? s.signals : sys5(__NR_prctl, PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  if (r < 0) {
    struct failure f = {s.signals < 0 ? "signalfd" : "subreaper", 0, -r};
    report_failure(p->ctl, &f);
    return 1;
  }

  struct failure f = {0, 0, 0};
  long target = start_target(p, &f, s.self);
  if (target < 0) failed(&f, "fork", 0, target);
  if (f.step) {
    if (target > 0) sys4(__NR_wait4, target, 0, 0, 0);
    report_failure(p->ctl, &f);
    return 1;
  }
  s.target = target;
  put(&t, "pid ");
  put_number(&t, target);
  send_line(p->ctl, &t);

  /* Hold nothing of the command's: its pipes must reach end of file when its processes close them. */
  long null = open_file("/dev/null", O_RDWR | O_CLOEXEC, 0);
  for (int fd = 0; fd < 3; fd++) {
    if (null >= 0 && null != fd) sys3(__NR_dup3, null, fd, 0);
  }
  static struct plan own;
  own.keep[own.nkeep++] = p->ctl;
  own.keep[own.nkeep++] = (int)s.signals;
  if (p->hold >= 0) own.keep[own.nkeep++] = p->hold;
  sort_fds(own.keep, own.nkeep);
  close_others(&own);

  /* The end of the channel is end of file on it, or on the hold pipe under the fork server. */
  int hold = p->hold >= 0 ? p->hold : p->ctl;
  char buf[64];
  for (;;) {
    if (s.target_done && !reap(&s)) return 0;
    struct pollfd pf[2] = {{hold, POLLIN, 0}, {(int)s.signals, POLLIN, 0}};
    r = sys5(__NR_ppoll, pf, 2, 0, 0, 0);
    if (r == -EINTR) continue;
    if (r < 0) break;
    if (pf[1].revents) {
      wait_for_signal(&s, 0);
      reap(&s);
    }
    /* Node never writes: anything readable is the end of the channel. */
    if (pf[0].revents) {
      long n = sys3(__NR_read, hold, buf, sizeof buf);
      if (n == -EINTR || n == -EAGAIN || n > 0) continue;
      break;
    }
  }
  clean_up(&s);
  return 0;
}

/* ---- the daemon ---- */

static long write_pid_file(const struct plan *p, struct failure *f) {
  long fd = open_file(p->pid_file, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return failed(f, "pidfile", 0, fd);
  /* An open file description lock lives as long as this fd, whatever else the daemon opens and closes. */
  struct flock lock;
  memset(&lock, 0, sizeof lock);
  lock.l_type = F_WRLCK;
  lock.l_whence = 0;
  long r = sys3(__NR_fcntl, fd, F_OFD_SETLK, &lock);
  if (r == -EINVAL) r = sys3(__NR_fcntl, fd, F_SETLK, &lock);
  if (r < 0) return failed(f, r == -EAGAIN || r == -EACCES ? "locked" : "pidfile", 0, r);
  struct text t;
  t.len = 0;
  put_number(&t, sys0(__NR_getpid));
  t.buf[t.len++] = '\n';
  if ((r = sys2(__NR_ftruncate, fd, 0)) < 0) return failed(f, "pidfile", 0, r);
  if ((r = sys3(__NR_write, fd, t.buf, t.len)) != (long)t.len) return failed(f, "pidfile", 0, r < 0 ? r : -EAGAIN);
  if ((r = sys3(__NR_fcntl, fd, F_SETFD, 0)) < 0) return failed(f, "pidfile", 0, r);
  return fd;
}

static int daemonize(struct plan *p) {
  struct failure f = {0, 0, 0};
  long first = tether_fork();
  if (first < 0) {
    failed(&f, "fork", 0, first);
    report_failure(p->ctl, &f);
    return 1;
  }
  if (first > 0) {
    /* The channel must close when the daemon execs, not when this process ends. */
    sys1(__NR_close, p->ctl);
    while (sys4(__NR_wait4, first, 0, 0, 0) == -EINTR) {
    }
    return 0;
  }
  long r = sys0(__NR_setsid);
  long second = r < 0 ? r : tether_fork();
  if (second < 0) {
    failed(&f, r < 0 ? "setsid" : "fork", 0, second);
    report_failure(p->ctl, &f);
    sys1(__NR_exit_group, 1);
  }
  if (second > 0) sys1(__NR_exit_group, 0);

  /* The daemon itself. Its pid file is its own: written and locked before the parent hears its pid. */
  if (p->pid_file) {
    long fd = write_pid_file(p, &f);
    if (fd < 0) {
      report_failure(p->ctl, &f);
      sys1(__NR_exit_group, 127);
    }
    p->keep[p->nkeep++] = (int)fd;
  }
  p->keep[p->nkeep++] = p->ctl;
  sort_fds(p->keep, p->nkeep);
  if (!p->dir) p->dir = "/";
  struct text t;
  t.len = 0;
  put(&t, "pid ");
  put_number(&t, sys0(__NR_getpid));
  send_line(p->ctl, &t);
  become_target(p, &f, 0);
  report_failure(p->ctl, &f);
  sys1(__NR_exit_group, 127);
  return 127;
}

/* ---- the fork server ---- */

/*
 * With -S CTL the helper is a fork server: Node starts one per process and sends it every command as a
 * message on CTL (a 4-byte length in host order, then NUL-terminated words):
 *
 *   run PIPES COUNT ARGS... ENV...    start a command: ARGS are COUNT words of the options above, from
 *                                     "-c" to FILE ARGV0 ARGS; ENV is the environment
 *   pipes COUNT                       make COUNT pipes for Node; "ok 0 R W ..." (released likewise)
 *   release FD...                     close the server's copies of these fds
 *   sweep PID                         after Node killed supervisor PID: "ok 0" once it and the orphans
 *                                     it left are reaped
 *
 * PIPES lists the pipes to make, "FD:w" (the command writes fd FD) or "FD:r" (it reads it), and
 * "FD:c", the control pipe the supervisor reports on, comma separated. For each run the server makes the pipes, forks a supervisor (as without -S, but
 * with -h HOLD: a pipe whose end of file stops the command) and answers "ok PID FD..." with the numbers
 * of Node's ends in this process, which Node opens through /proc/PID/fd and then releases; or "fail
 * STEP ERRNO". It reaps the supervisors, and ends when Node closes CTL.
 */

#define MESSAGE_BYTES (8 << 20)
#define OUTPUT_PIPE_BYTES (256 << 10)
#ifndef POLLRDHUP
#define POLLRDHUP 0x2000
#endif
#ifndef F_SETPIPE_SZ
#define F_SETPIPE_SZ 1031
#endif
#define MAX_WORDS (1 << 18)
static char message[MESSAGE_BYTES];
static char *words[MAX_WORDS];

struct pipe_spec {
  int fd;
  int writes;
  int ends[2];
};

static void reply_failure(int ctl, const char *step, long err) {
  struct text t;
  t.len = 0;
  put(&t, "fail ");
  put(&t, step);
  put(&t, " ");
  put_number(&t, -err);
  send_line(ctl, &t);
}

/* Moves `from` onto `to`, leaving `to` open across exec. */
static long place(long from, int to) {
  if (from == to) return sys3(__NR_fcntl, to, F_SETFD, 0);
  long r = sys3(__NR_dup3, from, to, 0);
  if (r >= 0) sys1(__NR_close, from);
  return r;
}

static long server_pid;
static long server_signals;


/* The supervisor, forked by the server: puts the command's fds in place, then supervises. */
static void become_supervisor(struct pipe_spec *pipes, int npipes, int control, int argc, char **argv, char **envp)
    __attribute__((noreturn));
static void become_supervisor(struct pipe_spec *pipes, int npipes, int control, int argc, char **argv, char **envp) {
  static struct plan p;
  static struct plan placed;
  /* Until the command runs, this process holds Node's stdio and may block (opening a FIFO): it must not
   * outlive the server, which ends with Node. Once the command runs it answers to its hold pipe only. */
  sys5(__NR_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (sys0(__NR_getppid) != server_pid) sys1(__NR_exit_group, 1);
  /* Every end first above every target, so that placing one never overwrites another. A failure is
   * reported on the control pipe, wherever its end is at that moment. */
  int base = 3;
  for (int i = 0; i < npipes; i++)
    if (pipes[i].fd >= base) base = pipes[i].fd + 1;
  long moved[MAX_FDS];
  struct failure f = {"fds", 0, 0};
  for (int i = 0; i < npipes; i++) {
    moved[i] = sys3(__NR_fcntl, pipes[i].ends[pipes[i].writes ? 1 : 0], F_DUPFD_CLOEXEC, base);
    if (moved[i] < 0) {
      failed(&f, "fds", 0, moved[i]);
      report_failure(pipes[control].ends[1], &f);
      sys1(__NR_exit_group, 126);
    }
  }
  for (int i = 0; i < npipes; i++) {
    long r = place(moved[i], pipes[i].fd);
    if (r < 0) {
      failed(&f, "fds", 0, r);
      report_failure(control < i ? pipes[control].fd : (int)moved[control], &f);
      sys1(__NR_exit_group, 126);
    }
    placed.keep[placed.nkeep++] = pipes[i].fd;
  }
  /* Nothing else of the server's: not its channel, and not the ends of other commands' pipes it has not
   * released yet, which this process must not hold while it may block (opening a FIFO, say). */
  sort_fds(placed.keep, placed.nkeep);
  close_others(&placed);
  parse(&p, argc, argv, envp);
  if (p.ctl < 0 || p.hold < 0) usage(p.ctl, "no control or hold fd:", "-c -h");
  /* Node ended while this command was on its way: it does not start. */
  if (node_status(1)) sys1(__NR_exit_group, 1);
  sys3(__NR_fcntl, p.ctl, F_SETFD, FD_CLOEXEC);
  sys3(__NR_fcntl, p.hold, F_SETFD, FD_CLOEXEC);
  for (int i = 0; i < p.nopens; i++) {
    const struct open_spec *o = &p.opens[i];
    long fd = open_file(o->path ? o->path : "/dev/null", o->flags | O_CLOEXEC, 0666);
    if (fd >= 0) fd = place(fd, o->fd);
    if (fd < 0) {
      struct text t;
      t.len = 0;
      put_number(&t, o->fd);
      t.buf[t.len] = '\0';
      failed(&f, "open", t.buf, fd);
      report_failure(p.ctl, &f);
      sys1(__NR_exit_group, 1);
    }
  }
  sort_fds(p.keep, p.nkeep);
  sys5(__NR_prctl, PR_SET_PDEATHSIG, 0, 0, 0, 0);
  sys1(__NR_exit_group, supervise(&p));
  for (;;) {
  }
}

/* A number of at most `max`, or -1. */
static long small_number(const char *word, long max) {
  unsigned long long n = 0;
  if (parse_number(word, 10, &n) < 0 || n > (unsigned long long)max) return -1;
  return (long)n;
}

/* The supervisors the server forked and has not reaped. Any other child of the server is an orphan:
 * the descendant of a supervisor that was killed outright, adopted by the server as its subreaper. */
#define MAX_SUPERVISORS 65536
static int supervisors[MAX_SUPERVISORS];
static int nsupervisors;

static void add_supervisor(long pid) {
  if (nsupervisors < MAX_SUPERVISORS) supervisors[nsupervisors++] = (int)pid;
}

static int forget_supervisor(long pid) {
  for (int i = 0; i < nsupervisors; i++) {
    if (supervisors[i] == pid) {
      supervisors[i] = supervisors[--nsupervisors];
      return 1;
    }
  }
  return 0;
}

/* Reaps every child that ended; then kills every orphan adopted meanwhile. Their own children come to
 * the server in turn when they die, and go the same way. Returns how many orphans it found. */
static int reap_and_kill_orphans(long self, int orphans_possible) {
  for (;;) {
    long pid = sys4(__NR_wait4, -1, 0, WNOHANG | __WALL, 0);
    if (pid == -EINTR) continue;
    if (pid <= 0) break;
    /* A supervisor that ended may leave orphans behind (if it was killed); an orphan that ended may too. */
    forget_supervisor(pid);
    orphans_possible = 1;
  }
  if (!orphans_possible) return 0;
  int count = children_of(self, 0);
  int orphans = 0;
  for (int i = 0; i < count; i++) {
    int known = 0;
    for (int j = 0; j < nsupervisors && !known; j++) known = supervisors[j] == descendants[i];
    if (!known) sys2(__NR_kill, descendants[i], SIGKILL), orphans++;
  }
  return orphans;
}

/*
 * One "sweep PID" message, after Node killed the supervisor PID outright: answers "ok 0" once that
 * supervisor is reaped and every orphan it left is dead and reaped too (or after a second, whatever is
 * left). The server serves nothing else meanwhile: a few milliseconds, and only on this rare path.
 */
static void sweep(int ctl, long signals, char **first, int w) {
  long pid = w == 1 ? small_number(first[0], 1L << 30) : -1;
  long deadline = now_ms() + 1000;
  for (;;) {
    int orphans = reap_and_kill_orphans(server_pid, 1);
    int pending = 0;
    for (int j = 0; j < nsupervisors && !pending; j++) pending = supervisors[j] == pid;
    long left = deadline - now_ms();
    if ((!pending && orphans == 0) || left <= 0) break;
    struct pollfd pf = {(int)signals, POLLIN, 0};
    long t[2] = {0, (left < 10 ? left : 10) * 1000000L};
    sys5(__NR_ppoll, &pf, 1, t, 0, 0);
    char info[128 * 8];
    while (sys3(__NR_read, signals, info, sizeof info) > 0) {
    }
  }
  struct text t;
  t.len = 0;
  put(&t, "ok 0");
  send_line(ctl, &t);
}


/* One "run" message: `w` words from `first`. A request Node should not have sent fails alone: the
 * server goes on serving the others. */
static void run(int ctl, char **first, int w) {
  static struct pipe_spec pipes[MAX_FDS];
  int npipes = 0;
  int control = -1;
  if (w < 3) {
    reply_failure(ctl, "usage", -EINVAL);
    return;
  }
  char *spec = first[0];
  if (!same(spec, "-")) {
    for (char *c = spec; *c;) {
      char *colon = c;
      while (*colon && *colon != ':') colon++;
      if (npipes == MAX_FDS || !*colon || (colon[1] != 'r' && colon[1] != 'w' && colon[1] != 'c')) {
        reply_failure(ctl, "usage", -EINVAL);
        return;
      }
      *colon = '\0';
      long fd = small_number(c, 1 << 20);
      if (fd < 0) {
        reply_failure(ctl, "usage", -EINVAL);
        return;
      }
      pipes[npipes].fd = (int)fd;
      pipes[npipes].writes = colon[1] != 'r';
      if (colon[1] == 'c') control = npipes;
      npipes++;
      c = colon + 2;
      if (*c == ',') c++;
    }
  }
  long count = small_number(first[1], w - 2);
  if (count < 0 || control < 0) {
    reply_failure(ctl, "usage", -EINVAL);
    return;
  }
  /* parse() reads from index 1: the count word stands in for argv[0]. */
  char **argv = first + 1;
  int argc = (int)count + 1;
  /* argv and the environment each end with a null pointer: the environment moves up by one. */
  memmove(argv + argc + 1, argv + argc, (unsigned long)(w - 1 - argc) * sizeof *argv);
  argv[argc] = 0;
  char **envp = argv + argc + 1;
  first[w + 1] = 0;

  for (int i = 0; i < npipes; i++) {
    long r = sys2(__NR_pipe2, pipes[i].ends, O_CLOEXEC);
    if (r < 0) {
      for (int j = 0; j < i; j++) sys1(__NR_close, pipes[j].ends[0]), sys1(__NR_close, pipes[j].ends[1]);
      reply_failure(ctl, "pipe", r);
      return;
    }
    /* As much room as a socketpair has: a program that writes its last output and exits at once (a
     * Node program calling process.exit) loses what does not fit. Best effort: the kernel may refuse. */
    if (pipes[i].writes && i != control) sys3(__NR_fcntl, pipes[i].ends[1], F_SETPIPE_SZ, OUTPUT_PIPE_BYTES);
  }
  long pid = tether_fork();
  if (pid == 0) become_supervisor(pipes, npipes, control, argc, argv, envp);
  if (pid > 0) add_supervisor(pid);
  struct text t;
  t.len = 0;
  if (pid < 0) {
    put(&t, "fail fork ");
    put_number(&t, -pid);
  } else {
    put(&t, "ok ");
    put_number(&t, pid);
  }
  for (int i = 0; i < npipes; i++) {
    int child_end = pipes[i].writes ? 1 : 0;
    sys1(__NR_close, pipes[i].ends[child_end]);
    if (pid < 0) {
      sys1(__NR_close, pipes[i].ends[1 - child_end]);
      continue;
    }
    put(&t, " ");
    put_number(&t, pipes[i].ends[1 - child_end]);
  }
  send_line(ctl, &t);
}

/* One "pipes N" message: N pipes for Node itself (between the stages of a pipeline). */
static void make_pipes(int ctl, char **first, int w) {
  long count = w == 1 ? small_number(first[0], MAX_FDS) : -1;
  if (count < 0) {
    reply_failure(ctl, "usage", -EINVAL);
    return;
  }
  struct text t;
  t.len = 0;
  /* The same shape as a run's answer, with no supervisor: "ok 0 R W ...". */
  put(&t, "ok 0");
  int made[2 * MAX_FDS];
  for (long i = 0; i < count; i++) {
    long r = sys2(__NR_pipe2, made + 2 * i, O_CLOEXEC);
    if (r < 0) {
      for (long j = 0; j < 2 * i; j++) sys1(__NR_close, made[j]);
      reply_failure(ctl, "pipe", r);
      return;
    }
    put(&t, " ");
    put_number(&t, made[2 * i]);
    put(&t, " ");
    put_number(&t, made[2 * i + 1]);
  }
  send_line(ctl, &t);
}

static void release(char **first, int w) {
  for (int i = 0; i < w; i++) {
    unsigned long long fd;
    if (parse_number(first[i], 10, &fd) == 0 && fd > 2) sys1(__NR_close, fd);
  }
}

static void handle(int ctl, char *body, unsigned long length) {
  int w = 0;
  for (unsigned long at = 0; at < length;) {
    if (w == MAX_WORDS - 3) {
      reply_failure(ctl, "usage", -E2BIG);
      return;
    }
    words[w++] = body + at;
    while (at < length && body[at]) at++;
    at++;
  }
  if (w == 0) return;
  if (same(words[0], "run")) run(ctl, words + 1, w - 1);
  else if (same(words[0], "release")) release(words + 1, w - 1);
  else if (same(words[0], "pipes")) make_pipes(ctl, words + 1, w - 1);
  else if (same(words[0], "sweep")) sweep(ctl, server_signals, words + 1, w - 1);
  else reply_failure(ctl, "usage", -EINVAL);
}

static int serve(int ctl) {
  /* Only Node's stdio and the channel: an fd Node inherited and later closes must not live on here. */
  static struct plan own;
  own.keep[own.nkeep++] = ctl;
  close_others(&own);
  node_pid = sys0(__NR_getppid);
  server_pid = sys0(__NR_getpid);
  /* As without the server, nothing a command starts may escape to init: not even when its supervisor is
   * killed outright. The server then adopts the orphans, and kills them. */
  sys5(__NR_prctl, PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  unsigned long all[SIGSET_WORDS];
  for (unsigned long i = 0; i < sizeof all / sizeof all[0]; i++) all[i] = ~0UL;
  unsigned long dfl[8] = {0};
  sys4(__NR_rt_sigaction, SIGCHLD, dfl, 0, SIGSET_BYTES);
  long signals = sys4(__NR_signalfd4, -1, all, sizeof all, O_CLOEXEC | O_NONBLOCK);
  if (signals < 0) usage(ctl, "no signalfd", "");
  server_signals = signals;
  unsigned long have = 0;
  for (;;) {
    struct pollfd pf[2] = {{ctl, POLLIN | POLLRDHUP, 0}, {(int)signals, POLLIN, 0}};
    long r = sys5(__NR_ppoll, pf, 2, 0, 0, 0);
    if (r == -EINTR) continue;
    if (r < 0) return 1;
    /* Node is gone: what it asked for last is not started for nobody. */
    if (pf[0].revents & (POLLHUP | POLLRDHUP)) return 0;
    if (pf[1].revents) {
      char info[128 * 8];
      while (sys3(__NR_read, signals, info, sizeof info) > 0) {
      }
      reap_and_kill_orphans(server_pid, 0);
    }
    if (!pf[0].revents) continue;
    long n = sys3(__NR_read, ctl, message + have, MESSAGE_BYTES - have);
    if (n == -EINTR || n == -EAGAIN) continue;
    if (n <= 0) return 0;
    have += (unsigned long)n;
    unsigned long at = 0;
    for (;;) {
      unsigned int length;
      if (have - at < sizeof length) break;
      memcpy(&length, message + at, sizeof length);
      if (length > MESSAGE_BYTES - sizeof length - 1) usage(ctl, "message too long", "");
      if (have - at - sizeof length < length) break;
      handle(ctl, message + at + sizeof length, length);
      at += sizeof length + length;
    }
    if (at > 0) {
      memmove(message, message + at, have - at);
      have -= at;
    }
  }
}

int main(int argc, char **argv, char **envp) {
  static struct plan p;
  /* Until the target execs, no signal may stop this process half-way; the target unblocks them. */
  unsigned long all[SIGSET_WORDS];
  for (unsigned long i = 0; i < sizeof all / sizeof all[0]; i++) all[i] = ~0UL;
  sys4(__NR_rt_sigprocmask, SIG_BLOCK, all, 0, sizeof all);

  if (argc == 3 && same(argv[1], "-S")) return serve((int)number(-1, argv[2], 10, 1 << 30));
  parse(&p, argc, argv, envp);
  if (p.ctl < 0 || sys3(__NR_fcntl, p.ctl, F_SETFD, FD_CLOEXEC) < 0) usage(-1, "no control fd:", "-c");
  sort_fds(p.keep, p.nkeep);
  if (!p.daemon) node_pid = sys0(__NR_getppid);
  return p.daemon ? daemonize(&p) : supervise(&p);
}
