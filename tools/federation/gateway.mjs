// A real Apollo federation gateway in front of Mosaic and other subgraphs.
//
// It asks every subgraph for its SDL (`_service { sdl }`), composes the supergraph with
// @apollo/composition (failing loudly on composition errors, as `rover supergraph
// compose` would), and serves it with @apollo/gateway on Apollo Server.
//
//   node gateway.mjs --port 4000 --subgraph mosaic=http://127.0.0.1:8000/graphql \
//                    --subgraph reviews=http://127.0.0.1:4001/ [--supergraph-out FILE]
//   (--port 0 picks a free port; the line "ready <url>" says which)
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { composeServices } from "@apollo/composition";
import { ApolloGateway } from "@apollo/gateway";
import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";
import { parse } from "graphql";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "4000" },
    subgraph: { type: "string", multiple: true, default: [] },
    "supergraph-out": { type: "string" },
  },
});

async function sdlOf(url) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify({ query: "{ _service { sdl } }" }),
  });
  const body = await response.json();
  if (!body.data?._service?.sdl) {
    throw new Error(`${url} gave no SDL: ${JSON.stringify(body)}`);
  }
  return body.data._service.sdl;
}

const services = [];
for (const spec of values.subgraph) {
  const [name, url] = spec.split(/=(.*)/s);
  services.push({ name, url, typeDefs: parse(await sdlOf(url)) });
}

const composed = composeServices(services);
if (composed.errors) {
  for (const error of composed.errors) console.error(`composition error: ${error.message}`);
  process.exit(1);
}
if (values["supergraph-out"]) writeFileSync(values["supergraph-out"], composed.supergraphSdl);

const gateway = new ApolloGateway({ supergraphSdl: composed.supergraphSdl });
const server = new ApolloServer({ gateway });
const { url } = await startStandaloneServer(server, {
  listen: { host: "127.0.0.1", port: Number(values.port) },
});
console.log(`ready ${url}`);
