"""The privileged half of the sandbox: namespaces, a private root, limits, then the runner as nobody.

Run by sandbox.py as ``python -I -S _launcher.py CONFIG_JSON`` (standard library only, so it starts in
a few milliseconds). Three processes:

  launcher  (this script, in the caller's PID namespace) creates the namespaces and waits;
  init      (PID 1 of a new PID namespace, root) builds the root filesystem, then waits for the
            runner and writes its exit status and CPU time to the control fd, which the runner never
            holds. When init exits, the kernel kills every process left in the namespace, so nothing
            the candidate started (daemons, setsid, double forks) outlives the run; and init dies with
            the launcher (PR_SET_PDEATHSIG), which is what the caller kills on a timeout;
  runner    (init's child) drops to an unprivileged uid with limits and no new privileges, and execs
            ``python -I -S -c <harness.py>``.

Modes: "root" (namespaces, a chroot of read-only system folders and a fresh tmpfs, a random uid so that
RLIMIT_NPROC counts this run alone), "userns" (the same inside a user namespace, for a user who is not
root; the runner enters a second user namespace in which it is not root, so it holds no capability
over the mounts), and "none" (limits and a temporary folder only; the caller records it in verdicts).
"""

import contextlib
import ctypes
import json
import os
import resource
import select
import signal
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38
RUNNER_UID_IN_USERNS = 1000
LIMITS = {
    "cpu_s": resource.RLIMIT_CPU,
    "memory_bytes": resource.RLIMIT_AS,
    "file_bytes": resource.RLIMIT_FSIZE,
    "open_files": resource.RLIMIT_NOFILE,
    "processes": resource.RLIMIT_NPROC,
}

libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(
        libc.mount(
            None if source is None else source.encode(),
            target.encode(),
            None if fstype is None else fstype.encode(),
            ctypes.c_ulong(flags),
            None if data is None else data.encode(),
        ),
        f"mount {source} on {target}",
    )


def _bind(source: str, target: str, writable: bool = False) -> None:
    """Bind source at target, then remount the bind read-only, without setuid bits or devices."""
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "a").close()
    _mount(source, target, None, MS_BIND | MS_REC)
    flags = MS_REMOUNT | MS_BIND | MS_NOSUID | (0 if writable else MS_RDONLY)
    if not source.startswith("/dev/"):
        flags |= MS_NODEV
    _mount(None, target, None, flags)


def _write_file(path: str, text: str) -> None:
    with open(path, "w") as handle:
        handle.write(text)


def build_root(config: dict) -> None:
    """A new root: system folders and the interpreter read-only, fresh /proc, /dev, /tmp.

    Only the runner enters it (chroot): a process in a chroot may not create a user namespace, and
    the runner of userns mode must create one first.
    """
    root = config["root"]
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=755")
    for link, target in config["links"].items():
        os.symlink(target, root + link)
    for path in config["binds"]:
        _bind(path, root + path)
    for device in ("null", "zero", "random", "urandom"):
        _bind("/dev/" + device, f"{root}/dev/{device}", writable=True)
    os.makedirs(root + "/proc")
    _mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    tmpfs = f"size={config['tmp_bytes']},nr_inodes=4096,mode=700,uid={config['uid']},gid={config['uid']}"
    for folder in ("/tmp", "/dev/shm"):
        os.makedirs(root + folder, exist_ok=True)
        _mount("tmpfs", root + folder, "tmpfs", MS_NOSUID | MS_NODEV, tmpfs)
    _mount(None, root, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _enter_unprivileged_userns() -> None:
    """userns mode: a nested user namespace in which the runner is uid 1000 and holds no capability."""
    outer_uid, outer_gid = os.geteuid(), os.getegid()
    _check(libc.unshare(CLONE_NEWUSER), "unshare(CLONE_NEWUSER) for the runner")
    _write_file("/proc/self/setgroups", "deny")
    _write_file("/proc/self/uid_map", f"{RUNNER_UID_IN_USERNS} {outer_uid} 1")
    _write_file("/proc/self/gid_map", f"{RUNNER_UID_IN_USERNS} {outer_gid} 1")
    os.setresgid(RUNNER_UID_IN_USERNS, RUNNER_UID_IN_USERNS, RUNNER_UID_IN_USERNS)
    os.setresuid(RUNNER_UID_IN_USERNS, RUNNER_UID_IN_USERNS, RUNNER_UID_IN_USERNS)


def runner(config: dict, harness: str) -> None:
    """Become the unprivileged runner: fds, limits, identity, then exec the harness."""
    fds = config["fds"]
    keep = sorted({fds["requests"], fds["replies"]})
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    start = 3
    for fd in [*keep, 1 << 16]:
        os.closerange(start, fd)
        start = fd + 1
    for fd in keep:
        os.set_inheritable(fd, True)
    os.setsid()
    for name, value in config["limits"].items():
        soft = hard = value
        if name == "cpu_s":
            # SIGXCPU at the soft limit, SIGKILL one second later for a candidate that catches it.
            hard = value + 1
        resource.setrlimit(LIMITS[name], (soft, hard))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if config["mode"] == "userns":
        _enter_unprivileged_userns()
    if config["mode"] != "none":
        os.chroot(config["root"])
        os.chdir("/tmp")
    if config["drop_uid"]:
        os.setgroups([])
        os.setresgid(config["uid"], config["uid"], config["uid"])
        os.setresuid(config["uid"], config["uid"], config["uid"])
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
    argv = [config["python"], "-I", "-S", "-c", harness, str(fds["requests"]), str(fds["replies"])]
    os.execve(config["python"], argv, config["env"])


def supervise(config: dict, harness: str, control: int) -> int:
    """Start the runner, reap everything, report how the runner ended; return the exit code to use."""
    pid = os.fork()
    if pid == 0:
        try:
            os.close(control)
            runner(config, harness)
        except BaseException as error:
            os.write(2, f"sandbox: runner setup failed: {error}\n".encode())
        os._exit(125)
    # The runner holds the only copies of the protocol pipes from here on, so its death is an EOF.
    os.close(config["fds"]["requests"])
    os.close(config["fds"]["replies"])
    signal.signal(signal.SIGTERM, lambda *_: os.kill(pid, signal.SIGKILL))
    while True:
        # As PID 1 every orphan of the candidate is ours to reap; the runner's end is the run's end.
        try:
            done, status, usage = os.wait4(-1, 0)
        except ChildProcessError:
            return 125
        if done == pid:
            break
    if config["mode"] == "none":
        # No PID namespace to tear down: kill what is left of the runner's session at least.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    report = {
        "exit": os.waitstatus_to_exitcode(status),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 4),
        "cpu_all_s": round(children.ru_utime + children.ru_stime, 4),
        "max_rss_kb": usage.ru_maxrss,
    }
    os.write(control, (json.dumps(report) + "\n").encode())
    return 0


def init(config: dict, harness: str, control: int, lifeline: int) -> int:
    """PID 1 of the new namespace: die with the launcher, build the root, supervise the runner."""
    _check(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)")
    # getppid() is 0 for a namespace's PID 1, so the launcher's death before the prctl shows as an
    # EOF on the lifeline pipe, of which the launcher holds the only write end.
    readable, _, _ = select.select([lifeline], [], [], 0)
    if readable:
        os._exit(125)
    if config["mode"] == "userns":
        # Root inside the user namespace: the tmpfs owner is given as seen from inside.
        config = dict(config, uid=0)
    build_root(config)
    return supervise(config, harness, control)


def _map_to_userns_root(uid: int, gid: int) -> None:
    _write_file("/proc/self/setgroups", "deny")
    _write_file("/proc/self/uid_map", f"0 {uid} 1")
    _write_file("/proc/self/gid_map", f"0 {gid} 1")


def main() -> None:
    config = json.loads(sys.argv[1])
    with open(config["harness"], encoding="utf-8") as handle:
        harness = handle.read()
    control = config["fds"]["control"]
    if config["mode"] == "none":
        os.chdir(config["workdir"])
        sys.exit(supervise(config, harness, control))
    flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
    if config["mode"] == "userns":
        flags |= CLONE_NEWUSER
    # Read before unshare: inside a new user namespace, unmapped ids read as the overflow id.
    uid, gid = os.geteuid(), os.getegid()
    try:
        _check(libc.unshare(flags), "unshare")
        if config["mode"] == "userns":
            _map_to_userns_root(uid, gid)
    except OSError as error:
        os.write(2, f"sandbox: cannot create namespaces ({config['mode']} mode): {error}\n".encode())
        sys.exit(126)
    lifeline, alive = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 125
        try:
            os.close(alive)
            code = init(config, harness, control, lifeline)
        except BaseException as error:
            os.write(2, f"sandbox: setup failed: {error}\n".encode())
        os._exit(code)
    for fd in (control, lifeline, config["fds"]["requests"], config["fds"]["replies"]):
        os.close(fd)
    # The caller stops a run with SIGTERM: kill init, whose exit takes the whole namespace with it,
    # and return only once it is reaped, so that nothing of the run is alive when the caller goes on.
    signal.signal(signal.SIGTERM, lambda *_: os.kill(pid, signal.SIGKILL))
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    sys.exit(code if code >= 0 else 128 - code)


if __name__ == "__main__":
    main()
