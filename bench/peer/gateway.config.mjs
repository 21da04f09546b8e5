// Hive Gateway serving the composed supergraph (build/supergraph.graphql) in its strong
// configuration: graphql-jit on, the one-round Query.products resolver, one immediate
// retry of an upstream call (Node reuses a keep-alive connection a system has just
// closed: "socket hang up"), and, with PEER_RESPONSE_CACHE=true, its response cache.
import { defineConfig } from '@graphql-hive/gateway';
import { resolvers } from './resolvers.mjs';

const cached = process.env.PEER_RESPONSE_CACHE === 'true';

export const gatewayConfig = defineConfig({
  supergraph: './build/supergraph.graphql',
  additionalResolvers: resolvers,
  jit: true,
  upstreamRetry: { maxRetries: 1, retryDelay: 0 },
  logging: 'warn',
  ...(cached
    ? {
        responseCaching: {
          // one shared answer per document and variables: the bench's client has no session
          session: () => null,
          ttl: Number(process.env.PEER_RESPONSE_CACHE_TTL_MS || 5000),
        },
      }
    : {}),
});
