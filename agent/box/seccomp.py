"""A seccomp filter for the box, as classic BPF for bubblewrap's `--seccomp` (x86_64).

Built here so that nothing beyond the standard library is needed: it refuses new namespaces
(user namespaces included), mounts, ptrace, keyrings, BPF, kernel modules and fallocate.
"""

from __future__ import annotations

import os
import platform
import struct

_AUDIT_ARCH_X86_64 = 0xC000003E
_X86_64_DENIED = {
    # namespaces and mounts
    "unshare": 272,
    "setns": 308,
    "mount": 165,
    "umount2": 166,
    "pivot_root": 155,
    "chroot": 161,
    "open_tree": 428,
    "move_mount": 429,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "mount_setattr": 442,
    # other processes, the kernel, keyrings
    "ptrace": 101,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "keyctl": 250,
    "add_key": 248,
    "request_key": 249,
    "bpf": 321,
    "perf_event_open": 298,
    "userfaultfd": 323,
    "kexec_load": 246,
    "kexec_file_load": 320,
    "init_module": 175,
    "finit_module": 313,
    "delete_module": 176,
    "open_by_handle_at": 304,
}
_CLONE, _CLONE3 = 56, 435
#: fallocate(2) reserves blocks past `RLIMIT_FSIZE` (FALLOC_FL_KEEP_SIZE): refused with
#: EOPNOTSUPP, so that libc's posix_fallocate falls back to writes, which the limits bound.
_FALLOCATE = 285
_NAMESPACE_FLAGS = 0x7E020000  # CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET
_EPERM, _ENOSYS, _EOPNOTSUPP = 1, 38, 95
_RET_ALLOW, _RET_ERRNO, _RET_KILL = 0x7FFF0000, 0x00050000, 0x80000000
_LD_ABS, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06


def seccomp_program() -> bytes | None:
    """A classic-BPF seccomp filter for bwrap's `--seccomp`, or None on an unknown architecture.

    It kills foreign-ABI calls (i386, x32), refuses the calls above with EPERM, `clone3` with
    ENOSYS (so libc falls back to `clone`), `fallocate` with EOPNOTSUPP, and `clone` with any
    namespace flag with EPERM.
    """
    if platform.machine() != "x86_64":
        return None

    def op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
        return struct.pack("=HBBI", code, jt, jf, k)

    program = [
        op(_LD_ABS, 4),
        op(_JEQ, _AUDIT_ARCH_X86_64, 1, 0),
        op(_RET, _RET_KILL),
        op(_LD_ABS, 0),
        op(_JGE, 0x40000000, 0, 1),
        op(_RET, _RET_KILL),
    ]
    for number in sorted(_X86_64_DENIED.values()):
        program += [op(_JEQ, number, 0, 1), op(_RET, _RET_ERRNO | _EPERM)]
    program += [op(_JEQ, _CLONE3, 0, 1), op(_RET, _RET_ERRNO | _ENOSYS)]
    program += [op(_JEQ, _FALLOCATE, 0, 1), op(_RET, _RET_ERRNO | _EOPNOTSUPP)]
    program += [
        op(_JEQ, _CLONE, 0, 4),
        op(_LD_ABS, 16),  # args[0], low 32 bits: the clone flags
        op(_JSET, _NAMESPACE_FLAGS, 0, 1),
        op(_RET, _RET_ERRNO | _EPERM),
        op(_RET, _RET_ALLOW),
        op(_RET, _RET_ALLOW),
    ]
    return b"".join(program)


def memfd(data: bytes) -> int:
    """A descriptor holding `data` from its start, for bwrap to read."""
    descriptor = os.memfd_create("petsage-seccomp", 0)
    os.write(descriptor, data)
    os.lseek(descriptor, 0, os.SEEK_SET)
    return descriptor
