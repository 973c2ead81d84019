/**
 * The registry a `--registry` flag names: a registry node (`host:port`,
 * `weft registry` or `serveRegistry`), reached with the command's TLS and
 * key flags, or etcd (`http://...`, `https://...`; several endpoints
 * comma-separated).
 *
 * @module
 */

import { EtcdRegistry } from "../discovery/etcd.ts";
import { type RegistryClusterOptions, RemoteRegistry } from "../discovery/remote.ts";
import type { Registry } from "../discovery/types.ts";
import type { ClusterOptions } from "../cluster/options.ts";

/** A registry client for `endpoint`; background failures are kept quiet (they retry). */
export function openRegistry(
  endpoint: string,
  namespace: string | undefined,
  options: ClusterOptions,
): Registry {
  const logger = { error() {}, warn() {} };
  const common = {
    ...(namespace === undefined ? {} : { namespace }),
    retryMin: 100,
    retryMax: 2000,
    logger,
  };
  if (/^https?:/.test(endpoint)) {
    return new EtcdRegistry({ endpoints: endpoint.split(","), ...common });
  }
  const { tls, auth, transport } = options;
  const cluster: RegistryClusterOptions = {
    logger,
    ...(tls === undefined ? {} : { tls }),
    ...(auth === undefined ? {} : { auth }),
    ...(transport === undefined ? {} : { transport }),
  };
  return new RemoteRegistry({
    address: endpoint,
    requestTimeout: 3000,
    pollWait: 5000,
    cluster,
    ...common,
  });
}
