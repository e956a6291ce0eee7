#!/usr/bin/python3
"""A slow, forgetful shared filesystem on one machine: a FUSE passthrough of BACKING at MOUNT.

Switches (all off by default):
  --latency-ms MS   sleep MS before every metadata call (lookup/getattr, open, create, readdir,
                    link, unlink, rename, mkdir, ...), like a round trip to an NFS or Lustre server
  --cache S         kernel name and attribute cache time (entry/attr/negative timeouts; NFS's
                    actimeo); 0 = every lookup reaches this process
  --no-stable-ino   do not pass the backing inode numbers through (libfuse numbers nodes per path,
                    so a hard link shows a different inode than its target: sshfs without use_ino)
  --no-links        link() fails with EPERM, as on object-store mounts
  --frozen-mtime    every file reports the mount's start time as its mtime (writes never advance
                    it), as on some object-store mounts

Runs in the foreground until unmounted (`umount MOUNT`) or killed. Needs libfuse2 and fusepy
(Debian: python3-fusepy) and root (no fusermount needed then).
"""

import argparse
import errno
import os
import sys
import time

try:
    from fusepy import FUSE, FuseOSError, Operations
except ImportError:  # pip's fusepy
    from fuse import FUSE, FuseOSError, Operations


class Bed(Operations):
    def __init__(self, root, latency, links, frozen_mtime=None):
        self.frozen_mtime = frozen_mtime
        self.root = os.path.realpath(root)
        self.latency = latency
        self.links = links

    def _p(self, path):
        return os.path.join(self.root, path.lstrip("/"))

    def _rt(self):
        if self.latency > 0:
            time.sleep(self.latency)

    def __call__(self, op, *args):
        try:
            return getattr(self, op)(*args)
        except OSError as e:
            raise FuseOSError(e.errno or errno.EIO)

    # Metadata calls: each is a round trip.
    def access(self, path, mode):
        self._rt()
        if not os.access(self._p(path), mode):
            raise FuseOSError(errno.EACCES)

    def getattr(self, path, fh=None):
        self._rt()
        st = os.fstat(fh) if fh is not None else os.lstat(self._p(path))
        keys = ("st_atime", "st_ctime", "st_gid", "st_mode", "st_mtime", "st_nlink", "st_size",
                "st_uid", "st_ino")
        out = {k: getattr(st, k) for k in keys}
        out["st_atime"], out["st_mtime"], out["st_ctime"] = (
            st.st_atime_ns / 1e9, st.st_mtime_ns / 1e9, st.st_ctime_ns / 1e9)
        if self.frozen_mtime is not None:
            out["st_mtime"] = out["st_ctime"] = self.frozen_mtime
        return out

    def readdir(self, path, fh):
        self._rt()
        return [".", ".."] + os.listdir(self._p(path))

    def readlink(self, path):
        self._rt()
        return os.readlink(self._p(path))

    def mknod(self, path, mode, dev):
        self._rt()
        return os.mknod(self._p(path), mode, dev)

    def mkdir(self, path, mode):
        self._rt()
        return os.mkdir(self._p(path), mode)

    def rmdir(self, path):
        self._rt()
        return os.rmdir(self._p(path))

    def unlink(self, path):
        self._rt()
        return os.unlink(self._p(path))

    def symlink(self, name, target):
        self._rt()
        return os.symlink(target, self._p(name))

    def rename(self, old, new):
        self._rt()
        return os.rename(self._p(old), self._p(new))

    def link(self, target, name):
        self._rt()
        if not self.links:
            raise FuseOSError(errno.EPERM)
        return os.link(self._p(name), self._p(target))

    def chmod(self, path, mode):
        self._rt()
        return os.chmod(self._p(path), mode)

    def chown(self, path, uid, gid):
        self._rt()
        return os.chown(self._p(path), uid, gid)

    def utimens(self, path, times=None):
        self._rt()
        return os.utime(self._p(path), times)

    def truncate(self, path, length, fh=None):
        self._rt()
        if fh is not None:
            return os.ftruncate(fh, length)
        with open(self._p(path), "r+") as f:
            f.truncate(length)

    def statfs(self, path):
        stv = os.statvfs(self._p(path))
        keys = ("f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail", "f_ffree", "f_files",
                "f_flag", "f_frsize", "f_namemax")
        return {k: getattr(stv, k) for k in keys}

    def open(self, path, flags):
        self._rt()
        return os.open(self._p(path), flags)

    def create(self, path, mode, fi=None):
        self._rt()
        # O_EXCL: the kernel asks for an exclusive create; the backing filesystem makes it atomic.
        return os.open(self._p(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)

    # Data calls: free (they ride on the open file).
    def read(self, path, length, offset, fh):
        return os.pread(fh, length, offset)

    def write(self, path, buf, offset, fh):
        return os.pwrite(fh, buf, offset)

    def flush(self, path, fh):
        return 0

    def release(self, path, fh):
        return os.close(fh)

    def fsync(self, path, datasync, fh):
        return os.fdatasync(fh) if datasync else os.fsync(fh)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("backing")
    ap.add_argument("mount")
    ap.add_argument("--latency-ms", type=float, default=0.0)
    ap.add_argument("--cache", type=float, default=0.0)
    ap.add_argument("--no-stable-ino", action="store_true")
    ap.add_argument("--no-links", action="store_true")
    ap.add_argument("--frozen-mtime", action="store_true")
    a = ap.parse_args()
    opts = dict(
        foreground=True,
        nothreads=False,
        allow_other=True,
        default_permissions=True,
        fsname="fuse-bed",
        subtype="bed",
        entry_timeout=a.cache,
        attr_timeout=a.cache,
        negative_timeout=a.cache,
    )
    if not a.no_stable_ino:
        opts["use_ino"] = True
    frozen = time.time() if a.frozen_mtime else None
    FUSE(Bed(a.backing, a.latency_ms / 1000.0, not a.no_links, frozen), a.mount, **opts)


if __name__ == "__main__":
    sys.exit(main())
