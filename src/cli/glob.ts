/**
 * Shell-style globs for `--exclude`: `*` and `?` within one path segment, `**` across
 * segments, `[abc]` classes. A pattern without a slash is matched against each entry's own
 * name (`node_modules`, `*.tmp`); one with a slash against its path from the watched root.
 */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        i++;
        if (glob[i + 1] === '/') i++;
        re += '.*';
      } else {
        re += '[^/]*';
      }
    } else if (c === '?') {
      re += '[^/]';
    } else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) {
        re += '\\[';
      } else {
        let body = glob.slice(i + 1, end);
        if (body.startsWith('!')) body = `^${body.slice(1)}`;
        re += `[${body.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else {
      re += c.replace(/[.+^${}()|\\/]/g, '\\$&');
    }
  }
  return new RegExp(`^${re}$`);
}

export class Excludes {
  private readonly byName: RegExp[] = [];
  private readonly byPath: RegExp[] = [];

  constructor(globs: string[]) {
    for (const g of globs) {
      const clean = g.replace(/^\.\//, '').replace(/\/+$/, '');
      (clean.includes('/') ? this.byPath : this.byName).push(globToRegExp(clean));
    }
  }

  /** `name` is the entry's own name, `rel` its path from the watched root. */
  matches(name: string, rel: string): boolean {
    return this.byName.some((r) => r.test(name)) || this.byPath.some((r) => r.test(rel));
  }
}
