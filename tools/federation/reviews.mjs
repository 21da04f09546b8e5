// A tiny second subgraph for the federation check: product reviews, owned by another
// team. It extends Mosaic's Product (key "sku") with `reviews`, and points at Mosaic's
// Customer (key "id") as each review's author, so a supergraph query crosses both
// subgraphs in both directions.
//
//   node reviews.mjs --port 4001 --skus 10000,10001 --authors crm:1001,crm:1002
//   (--port 0 picks a free port; the line "ready <url>" says which)
import { parseArgs } from "node:util";
import { ApolloServer } from "@apollo/server";
import { ApolloServerPluginInlineTraceDisabled } from "@apollo/server/plugin/disabled";
import { startStandaloneServer } from "@apollo/server/standalone";
import { buildSubgraphSchema } from "@apollo/subgraph";
import { parse } from "graphql";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "4001" },
    authors: { type: "string", default: "" },
    skus: { type: "string", default: "" },
  },
});
const authors = values.authors.split(",").filter(Boolean);
const topSkus = values.skus.split(",").filter(Boolean);

const typeDefs = parse(`
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])

  type Query {
    "Products this subgraph knows reviews for; their names come from Mosaic."
    topReviewed: [Product!]!
  }

  type Product @key(fields: "sku") {
    sku: ID!
    reviews: [Review!]!
  }

  type Review {
    rating: Int!
    body: String!
    author: Customer
  }

  type Customer @key(fields: "id", resolvable: false) {
    id: ID!
  }
`);

// Deterministic reviews, so the test can assert them: two per product.
function reviewsOf(sku) {
  return [0, 1].map((i) => ({
    rating: ((sku.length + i) % 5) + 1,
    body: `Review ${i + 1} of ${sku}`,
    author: authors.length ? { __typename: "Customer", id: authors[i % authors.length] } : null,
  }));
}

const resolvers = {
  Query: {
    topReviewed: () => topSkus.map((sku) => ({ sku })),
  },
  Product: {
    __resolveReference: (ref) => ({ sku: ref.sku }),
    reviews: (product) => reviewsOf(product.sku),
  },
};

const server = new ApolloServer({
  schema: buildSubgraphSchema({ typeDefs, resolvers }),
  plugins: [ApolloServerPluginInlineTraceDisabled()], // no Apollo Studio here
});
const { url } = await startStandaloneServer(server, {
  listen: { host: "127.0.0.1", port: Number(values.port) },
});
console.log(`ready ${url}`);
