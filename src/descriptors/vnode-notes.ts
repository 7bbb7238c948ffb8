import { NOTE_ATTRIB, NOTE_DELETE, NOTE_EXTEND, NOTE_LINK, NOTE_WRITE } from '../constants.js';

/** The part of a stat(2) result that the notes are derived from. */
export interface VnodeStat {
  size: number;
  atimeMs: number;
  mtimeMs: number;
  ctimeMs: number;
  nlink: number;
  mode: number;
  uid: number;
  gid: number;
}

/**
 * The NOTE_ bits that explain how an inode went from stat `p` to stat `c`, as DragonFly's
 * filesystems would have posted them (digest 3.5). Linux's inotify, through Node's fs.watch, only
 * says that something happened; what happened is read off the two stats:
 *
 * - the link count: up is NOTE_LINK (link(2)), down is NOTE_DELETE (unlink(2), or replaced by a
 *   rename); for a directory, 0 is NOTE_DELETE (rmdir) and any other change is NOTE_LINK (a
 *   subdirectory made, removed or moved);
 * - the size of a file: grown is NOTE_WRITE|NOTE_EXTEND; shrunk is a truncation, NOTE_WRITE (as
 *   DragonFly's tmpfs posts it) with NOTE_ATTRIB (as its UFS does): a rewrite shorter (O_TRUNC then
 *   a write, `fs.writeFileSync`, `echo x > f`) is seen in one look as a shrink, and its write must
 *   not be lost to a knote that watches NOTE_WRITE;
 * - the modification time: a write sets mtime and ctime to one same instant; utimes(2) sets mtime
 *   to a given time, usually in the past, or sets atime and mtime to one given time with ctime
 *   apart (fs.utimes). So a new mtime is a write (for a directory: an entry added, removed or
 *   renamed), unless it went back before the previous ctime, or atime moved to the very same
 *   value while ctime differs and the link count did not change, which is NOTE_ATTRIB (a link
 *   count change moves ctime on its own: `rm -rf` reads a directory, empties it within the same
 *   clock tick, so atime = mtime, then removes it later, which is no utimes). `touch` (all three set to now) cannot be told
 *   from a write followed by a read within one clock tick, and is reported as the write it may be;
 * - mode, owner or group changed: NOTE_ATTRIB;
 * - a ctime that nothing above accounts for (chmod to the same mode, an extended attribute, a
 *   link and an unlink that cancel out) is NOTE_ATTRIB too. `renamed` says the caller saw the file
 *   renamed, which also moves ctime.
 */
export function vnodeNotes(p: VnodeStat, c: VnodeStat, isDir: boolean, renamed: boolean): number {
  let notes = 0;
  if (isDir) {
    if (c.nlink === 0) {
      if (p.nlink !== 0) notes |= NOTE_DELETE;
    } else if (c.nlink !== p.nlink) {
      notes |= NOTE_LINK;
    }
  } else if (c.nlink > p.nlink) {
    notes |= NOTE_LINK;
  } else if (c.nlink < p.nlink) {
    notes |= NOTE_DELETE;
  }

  let wrote = false;
  let setTimes = false;
  if (c.mtimeMs !== p.mtimeMs) {
    if (c.mtimeMs < p.ctimeMs) setTimes = true;
    else {
      setTimes = c.nlink === p.nlink && c.atimeMs !== p.atimeMs && c.atimeMs === c.mtimeMs && c.mtimeMs !== c.ctimeMs;
    }
    wrote = !setTimes;
  }
  if (isDir) {
    if (wrote) notes |= NOTE_WRITE;
  } else if (c.size > p.size) {
    notes |= NOTE_WRITE | NOTE_EXTEND;
  } else if (c.size < p.size) {
    notes |= NOTE_WRITE | NOTE_ATTRIB;
    wrote = false;
  } else if (wrote) {
    notes |= NOTE_WRITE;
  }
  if (setTimes || c.mode !== p.mode || c.uid !== p.uid || c.gid !== p.gid) notes |= NOTE_ATTRIB;

  if (c.ctimeMs !== p.ctimeMs && !renamed && (notes & (NOTE_ATTRIB | NOTE_LINK | NOTE_DELETE)) === 0 &&
    !(wrote && c.ctimeMs === c.mtimeMs)) {
    notes |= NOTE_ATTRIB;
  }
  return notes;
}
