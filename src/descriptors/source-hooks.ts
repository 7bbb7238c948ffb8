import { types } from 'node:util';

/**
 * Helpers shared by the Node-object descriptors (socket, stream, server, dgram): identity checks
 * that run none of the caller's code, and hooks on a user's object that can be taken off again so
 * that the object is given back exactly as it was found.
 */

/**
 * `x instanceof C` without running any code of `x`'s: the prototype chain is walked by hand, and
 * a Proxy anywhere on it (`x` itself, or `Object.create(new Proxy(...))`) answers false before
 * its getPrototypeOf trap could run. The ordinary walk is used even where `C` has its own
 * Symbol.hasInstance (stream.Writable's reads a property of `x`, which may be a getter).
 */
export function isInstance(C: abstract new (...args: never[]) => unknown, x: unknown): boolean {
  if (typeof x !== 'object' || x === null || types.isProxy(x)) return false;
  const target = C.prototype as object;
  for (let o = Object.getPrototypeOf(x) as object | null; o !== null; o = Object.getPrototypeOf(o) as object | null) {
    if (types.isProxy(o)) return false;
    if (o === target) return plainInstance(x);
  }
  return false;
}

/** Objects found free of own accessors (looked at once: their own keys are not read again). */
const plain = new WeakSet<object>();

/**
 * Node makes its sockets, streams and servers with data properties only. An own accessor is the
 * caller's code (`Object.defineProperty(socket, 'destroyed', { get })`), which the fields read
 * while attaching would run, and whose exception would escape in the middle of a changelist: such
 * an object is not one the library can watch.
 */
function plainInstance(x: object): boolean {
  if (plain.has(x)) return true;
  for (const key of Reflect.ownKeys(x)) {
    const d = Reflect.getOwnPropertyDescriptor(x, key);
    if (d !== undefined && (d.get !== undefined || d.set !== undefined)) return false;
  }
  plain.add(x);
  return true;
}

/** A listener we put on a user's emitter, to be taken off again. */
export interface Emitter {
  on(event: string, fn: (...args: never[]) => void): unknown;
  removeListener(event: string, fn: (...args: never[]) => void): unknown;
}

/**
 * Replaces the method `name` of `obj` with an own property that calls the original and then
 * `after()` (`this` and the arguments are passed through untouched). Node's own code calls these
 * methods on the instance too (destroy after an error, push from the handle), so the hook sees
 * what a listener cannot see synchronously. Returns the function that restores the object: the
 * own property is removed again, or the user's own value put back.
 */
export function hookMethod<T extends object>(obj: T, name: string, after: () => void): () => void {
  const o = obj as Record<string, unknown>;
  const hadOwn = Object.prototype.hasOwnProperty.call(o, name);
  const previous = o[name] as (...args: unknown[]) => unknown;
  const hooked = function (this: unknown): unknown {
    // Only forwarded: V8 then passes the arguments on without making an object of them (push
    // runs for every chunk a stream receives).
    // eslint-disable-next-line prefer-rest-params
    const result = previous.apply(this, arguments as unknown as unknown[]);
    after();
    return result;
  };
  o[name] = hooked;
  return () => {
    // A user who replaced the method meanwhile keeps theirs; our hook inside it then only
    // calls through (its source has no knotes left to post to).
    if (o[name] !== hooked) return;
    if (hadOwn) o[name] = previous;
    else delete o[name];
  };
}
