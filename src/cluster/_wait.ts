/**
 * Private: bounded waits of the cluster (a connect, a congested
 * connection), on the cluster's shared deadline queue.
 *
 * @module
 */

import type { AbortSignalLike } from "../_platform.ts";
import { WeftError } from "../errors.ts";
import type { Deadline, DeadlineQueue } from "../session/deadline_queue.ts";
import { abortedError } from "./call_helpers.ts";

/**
 * Waits for `promise`, bounded by a monotonic deadline and a signal;
 * rejects with `timeout` or `aborted`. The deadline sits in the shared
 * deadline queue, so a call waiting out backpressure costs no timer.
 */
export function waitFor<T>(
  deadlines: DeadlineQueue,
  promise: Promise<T>,
  deadline: number,
  signal: AbortSignalLike | undefined,
  timeoutMessage: string,
): Promise<T> {
  if (deadline === Infinity && signal === undefined) return promise;
  return new Promise<T>((resolve, reject) => {
    const entry: Deadline = {
      deadline,
      deadlineIndex: -1,
      expire: () => {
        done();
        reject(new WeftError("timeout", timeoutMessage));
      },
    };
    const onAbort = () => {
      done();
      reject(abortedError(signal!));
    };
    const done = () => {
      deadlines.remove(entry);
      signal?.removeEventListener("abort", onAbort);
    };
    if (deadline !== Infinity) deadlines.add(entry);
    signal?.addEventListener("abort", onAbort, { once: true });
    promise.then((value) => {
      done();
      resolve(value);
    }, (error) => {
      done();
      reject(error);
    });
  });
}
