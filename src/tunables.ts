/**
 * The reference's sysctls, process-wide and mutable:
 * - `kq_calloutmax`: live EVFILT_TIMER knotes allowed across the process (ENOMEM past it);
 * - `kq_checkloop`: bound on collection rounds in one kevent call (0 disables the bound);
 * - `kq_sleep_threshold`: nanoseconds; kept for fidelity, unused (kevent waits are never busy).
 *
 * And this library's own, for sources Linux only lets us poll:
 * - `proc_poll_ms`: how often EVFILT_PROC reads /proc for what Node cannot tell (the exit of a
 *   process that is not our child, forks, execs), only while such a knote exists;
 * - `fs_poll_ms`: how often EVFILT_FS reads /proc/self/mountinfo while FS knotes exist;
 * - `fs_findmnt`: whether EVFILT_FS also runs util-linux's `findmnt --poll` (when installed),
 *   which sees each mount and unmount as it happens;
 * - `vnode_mount_poll_ms`: how often /proc/self/mountinfo is read, while any file is watched, to
 *   learn that a watched file's filesystem was unmounted (NOTE_REVOKE); see docs/filters/vnode.md.
 */
export const tunables = {
  kq_calloutmax: 4096,
  kq_checkloop: 1000000,
  kq_sleep_threshold: 20000,
  proc_poll_ms: 20,
  fs_poll_ms: 100,
  fs_findmnt: true,
  vnode_mount_poll_ms: 1000,
};
