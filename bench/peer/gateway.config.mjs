// Hive Gateway serving the composed supergraph (build/supergraph.graphql) in its strong
// configuration: graphql-jit on, the one-round Query.products resolver, one immediate
// retry of an upstream call (Node reuses a keep-alive connection a system has just
// closed: "socket hang up"), and, with PEER_RESPONSE_CACHE=true, its response cache.
import { defineConfig } from '@graphql-hive/gateway';
import { resolvers } from './resolvers.mjs';

// "default=600000,StockLevel=5000,...": how long a whole answer is kept, by the
// freshest-bound type in it (bench/peer.py passes Mosaic's freshness table)
const ttls = Object.fromEntries(
  (process.env.PEER_RESPONSE_CACHE_TTL_MS || 'default=5000')
    .split(',')
    .map(pair => pair.split('='))
    .map(([type, ms]) => [type, Number(ms)]),
);
const { default: ttl, ...ttlPerType } = ttls;

export const gatewayConfig = defineConfig({
  supergraph: './build/supergraph.graphql',
  additionalResolvers: resolvers,
  jit: true,
  upstreamRetry: { maxRetries: 1, retryDelay: 0 },
  logging: 'warn',
  ...(process.env.PEER_RESPONSE_CACHE === 'true'
    ? {
        responseCaching: {
          // one shared answer per document and variables: the bench's client has no session
          session: () => null,
          ttl,
          ttlPerType,
        },
      }
    : {}),
});
