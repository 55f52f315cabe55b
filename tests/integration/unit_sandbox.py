"""Runs a command inside the limits etc/tradingd.service puts on tradingd, without systemd:
usage: unit_sandbox.py UNIT_FILE -- COMMAND [ARGS...] (as root).

What systemd would apply and this applies too: UMask=, CapabilityBoundingSet= (and no
inheritable or ambient capability), NoNewPrivileges=, SystemCallFilter= (groups expanded by
systemd-analyze, with @default added as systemd adds it to an allow list),
RestrictAddressFamilies= (socket() of another family fails with EAFNOSUPPORT) and
MemoryDenyWriteExecute= (a writable+executable mmap, or mprotect/pkey_mprotect to executable,
fails with EPERM). One thing is stricter: a call outside SystemCallFilter= kills the process
(SIGSYS) instead of failing with SystemCallErrorNumber=, so that a refused call cannot go
unnoticed. The rest of the unit (mount namespaces, ProtectProc=, ...) is not emulated."""
import ctypes
import os
import subprocess
import sys

# linux/capability.h
CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
        "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
        "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
        "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
        "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
        "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
        "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"]
FAMILIES = {"AF_UNIX": 1, "AF_INET": 2, "AF_INET6": 10, "AF_NETLINK": 16, "AF_PACKET": 17}
AF_MAX = 46

PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 24, 38, 47, 4
PROT_WRITE, PROT_EXEC = 0x2, 0x4
SHM_EXEC = 0o100000
EPERM, EAFNOSUPPORT = 1, 97
ACT_KILL_PROCESS, ACT_ALLOW = 0x80000000, 0x7FFF0000
CMP_EQ, CMP_GT, CMP_MASKED_EQ = 4, 6, 7


def act_errno(err):
    return 0x00050000 | err


class ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                ("datum_b", ctypes.c_uint64)]


def parse_unit_service(path):
    """[Service] key -> list of values, in file order."""
    svc, section = {}, None
    for raw in open(path):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line
            continue
        if section == "[Service]":
            key, _, value = line.partition("=")
            svc.setdefault(key, []).append(value)
    return svc


_groups = {}


def expand(item):
    """A syscall name, or every syscall of a @group (recursively), per systemd-analyze."""
    if not item.startswith("@"):
        return {item}
    if item not in _groups:
        out = subprocess.run(["systemd-analyze", "syscall-filter", item], check=True,
                             capture_output=True, text=True).stdout.splitlines()
        names = set()
        for line in out[1:]:
            line = line.strip()
            if line and not line.startswith("#"):
                names |= expand(line)
        _groups[item] = names
    return _groups[item]


def allowed_syscalls(filters):
    """The set SystemCallFilter= lines allow: the first is an allow list (plus @default, as
    systemd adds it), each later one adds to it or, with ~, takes away."""
    assert filters and not filters[0].startswith("~"), "expected an allow list first"
    allowed = expand("@default")
    for value in filters:
        deny = value.startswith("~")
        names = set().union(*(expand(i) for i in value.lstrip("~").split()))
        allowed = allowed - names if deny else allowed | names
    return allowed


class Seccomp:
    def __init__(self):
        self.lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
        self.lib.seccomp_init.restype = ctypes.c_void_p
        self.lib.seccomp_init.argtypes = [ctypes.c_uint32]
        self.lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32,
                                                    ctypes.c_int, ctypes.c_uint,
                                                    ctypes.POINTER(ArgCmp)]
        self.lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
        self.lib.seccomp_load.argtypes = [ctypes.c_void_p]
        self.filters = []

    def number(self, name):
        nr = self.lib.seccomp_syscall_resolve_name(name.encode())
        return None if nr < 0 else nr  # absent on this architecture (the *32 variants)

    def new(self, default):
        ctx = self.lib.seccomp_init(default)
        assert ctx, "seccomp_init failed"
        self.filters.append(ctx)
        return ctx

    def rule(self, ctx, action, name, *cmps):
        nr = self.number(name)
        if nr is None:
            return
        arr = (ArgCmp * max(1, len(cmps)))(*[ArgCmp(*c) for c in cmps])
        rc = self.lib.seccomp_rule_add_array(ctx, action, nr, len(cmps), arr)
        assert rc == 0, f"seccomp_rule_add {name}: {rc}"

    def load(self):
        # The allow list goes last, as systemd loads it: it does not allow seccomp() itself.
        for ctx in self.filters[1:] + self.filters[:1]:
            rc = self.lib.seccomp_load(ctx)
            if rc != 0:
                raise OSError(-rc, "seccomp_load")


def build_filters(svc):
    """One filter per unit setting, as systemd loads them; the kernel applies the strictest."""
    sc = Seccomp()
    ctx = sc.new(ACT_KILL_PROCESS)
    for name in sorted(allowed_syscalls(svc["SystemCallFilter"])):
        sc.rule(ctx, ACT_ALLOW, name)
    families = {FAMILIES[f] for f in svc["RestrictAddressFamilies"][0].split()}
    ctx = sc.new(ACT_ALLOW)
    for fam in range(AF_MAX + 1):
        if fam not in families:
            sc.rule(ctx, act_errno(EAFNOSUPPORT), "socket", (0, CMP_EQ, fam, 0))
    sc.rule(ctx, act_errno(EAFNOSUPPORT), "socket", (0, CMP_GT, AF_MAX, 0))
    if svc.get("MemoryDenyWriteExecute") == ["yes"]:
        ctx = sc.new(ACT_ALLOW)
        wx = PROT_WRITE | PROT_EXEC
        sc.rule(ctx, act_errno(EPERM), "mmap", (2, CMP_MASKED_EQ, wx, wx))
        sc.rule(ctx, act_errno(EPERM), "mprotect", (2, CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC))
        sc.rule(ctx, act_errno(EPERM), "pkey_mprotect", (2, CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC))
        sc.rule(ctx, act_errno(EPERM), "shmat", (2, CMP_MASKED_EQ, SHM_EXEC, SHM_EXEC))
    return sc


def clear_inheritable(libc):
    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                    ("inheritable", ctypes.c_uint32)]
    hdr, data = Header(0x20080522, 0), (Data * 2)()
    if libc.capget(ctypes.byref(hdr), data) != 0:
        raise OSError(ctypes.get_errno(), "capget")
    data[0].inheritable = data[1].inheritable = 0
    if libc.capset(ctypes.byref(hdr), data) != 0:
        raise OSError(ctypes.get_errno(), "capset")


def bounding_mask(svc):
    return sum(1 << CAPS.index(c) for c in svc["CapabilityBoundingSet"][0].split())


def become_user(svc):
    """User=, Group= and SupplementaryGroups= as systemd applies them, before the filter."""
    import grp
    import pwd
    if "User" not in svc:
        return
    acct = pwd.getpwnam(svc["User"][0])
    gid = grp.getgrnam(svc["Group"][0]).gr_gid if "Group" in svc else acct.pw_gid
    extra = [grp.getgrnam(g).gr_gid for v in svc.get("SupplementaryGroups", [])
             for g in v.split()]
    # systemd calls initgroups() for User=: the account's groups, then SupplementaryGroups=.
    os.setgroups(sorted(set(os.getgrouplist(acct.pw_name, gid)) | set(extra)))
    os.setresgid(gid, gid, gid)
    os.setresuid(acct.pw_uid, acct.pw_uid, acct.pw_uid)


def enter(unit_path):
    """Puts this process inside the unit's limits; what it executes next stays inside."""
    svc = parse_unit_service(unit_path)
    sc = build_filters(svc)  # before the limits: systemd-analyze runs here
    libc = ctypes.CDLL(None, use_errno=True)
    os.umask(int(svc["UMask"][0], 8))
    keep = bounding_mask(svc)
    last = int(open("/proc/sys/kernel/cap_last_cap").read())
    for cap in range(last + 1):
        if not keep & (1 << cap) and libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), f"PR_CAPBSET_DROP {cap}")
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    clear_inheritable(libc)
    become_user(svc)
    if svc.get("NoNewPrivileges") == ["yes"] and libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0):
        raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS")
    sc.load()


if __name__ == "__main__":
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        sys.exit("usage: unit_sandbox.py UNIT_FILE -- COMMAND [ARGS...]")
    enter(sys.argv[1])
    os.execv(sys.argv[3], sys.argv[3:])
