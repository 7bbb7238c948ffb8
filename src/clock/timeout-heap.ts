/** Something waiting for a deadline: a kevent call's timeout. */
export interface TimeoutEntry {
  deadline: number;
  /** Position in the heap; -1 when not in it. */
  heapIndex: number;
  onTimeout(): void;
}

/** A binary min-heap of timeouts by deadline (ties in insertion order are not guaranteed). */
export class TimeoutHeap {
  private readonly heap: TimeoutEntry[] = [];

  get size(): number {
    return this.heap.length;
  }

  nextDeadline(): number {
    return this.heap.length === 0 ? Infinity : this.heap[0]!.deadline;
  }

  insert(e: TimeoutEntry): void {
    e.heapIndex = this.heap.length;
    this.heap.push(e);
    this.up(e.heapIndex);
  }

  remove(e: TimeoutEntry): void {
    const i = e.heapIndex;
    if (i < 0) return;
    e.heapIndex = -1;
    const last = this.heap.pop()!;
    if (last !== e) {
      this.heap[i] = last;
      last.heapIndex = i;
      this.down(i);
      this.up(last.heapIndex);
    }
  }

  /** Removes and returns the earliest entry if it is due at or before `limit`. */
  popDue(limit: number): TimeoutEntry | undefined {
    const top = this.heap[0];
    if (top === undefined || top.deadline > limit) return undefined;
    this.remove(top);
    return top;
  }

  private up(i: number): void {
    const h = this.heap;
    const e = h[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]!.deadline <= e.deadline) break;
      h[i] = h[p]!;
      h[i]!.heapIndex = i;
      i = p;
    }
    h[i] = e;
    e.heapIndex = i;
  }

  private down(i: number): void {
    const h = this.heap;
    const n = h.length;
    const e = h[i]!;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && h[c + 1]!.deadline < h[c]!.deadline) c++;
      if (h[c]!.deadline >= e.deadline) break;
      h[i] = h[c]!;
      h[i]!.heapIndex = i;
      i = c;
    }
    h[i] = e;
    e.heapIndex = i;
  }
}
