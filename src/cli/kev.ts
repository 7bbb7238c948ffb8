/**
 * One change applied on its own, answering 0 or the change's errno. With nevents 0 an error has
 * no room to be posted, so the call fails with it (the contract), and nothing that is ready is
 * harvested by accident; unlike EV_RECEIPT, no flag is left on the knote to show up in events.
 */
import { type KEventInit, type Kqueue, KqueueError } from '../index.js';

export function change(kq: Kqueue, ev: KEventInit): number {
  try {
    kq.keventSync([ev], 0);
    return 0;
  } catch (e) {
    if (e instanceof KqueueError) return e.errno;
    throw e;
  }
}
