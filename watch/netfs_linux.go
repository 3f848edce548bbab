package watch

import "syscall"

// netFS names the file system of dir when it is one whose files other
// machines may change (NFS, SMB, a FUSE mount such as sshfs or a Docker
// Desktop share, 9p, Ceph, AFS): inotify sees only what this machine's
// kernel writes, so changes made elsewhere reach the rooms by the rescan
// alone. "" for a local file system, or when statfs fails.
func netFS(dir string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return ""
	}
	// The magic numbers of statfs(2) and linux/magic.h.
	switch uint32(st.Type) {
	case 0x6969:
		return "nfs"
	case 0x517b, 0xff534d42, 0xfe534d42:
		return "smb"
	case 0x65735546:
		return "fuse"
	case 0x01021997:
		return "9p"
	case 0x00c36400:
		return "ceph"
	case 0x5346414f, 0x6b414653:
		return "afs"
	case 0x73757245:
		return "coda"
	case 0x0bd00bd0:
		return "lustre"
	}
	return ""
}
