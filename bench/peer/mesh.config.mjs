// The peer's composition: GraphQL Mesh composing the simulated systems from the same
// descriptions Mosaic is held to (contracts/), as a retailer would compose them.
//
// `npx mesh-compose -o build/supergraph.graphql` (bench/peer.py runs it once the systems
// are up: their URLs come from the environment). Only the pages, endpoints and fields the
// compared queries need are composed; everything else of the descriptions is left out so
// the supergraph stays small, as a retailer's would.
//
// NAV's page WSDLs need three adaptations that live here, not in contracts/:
// - @omnigraph/soap crashes on NAV's `urn:` namespaces: the copy it reads has them
//   rewritten to `http://`, and the generated @soap annotations carry the real `urn:`
//   namespace again, so the requests are NAV's;
// - it annotates SOAP 1.2 without a SOAPAction: NAV pages are SOAP 1.1 with the WSDL's
//   soapAction per operation, so each annotation gets both from the WSDL;
// - it puts Read/ReadMultiple on Mutation (only names starting with get/find/... are
//   queries): here they are moved to Query, where reads belong (and may be cached);
// - it makes every field of a page's record non-null, though the WSDL declares each
//   minOccurs="0" and NAV leaves blank ones out (an open ending date): a record's fields
//   are nullable here, as the WSDL says.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kind, parse, print, visit } from 'graphql';
import { defineConfig } from '@graphql-mesh/compose-cli';
import { createPrefixTransform } from '@graphql-mesh/fusion-composition';
import { loadOpenAPISubgraph } from '@omnigraph/openapi';
import { SOAPLoader } from '@omnigraph/soap';
import { printSchemaWithDirectives } from '@graphql-tools/utils';

const here = dirname(fileURLToPath(import.meta.url));
const contracts = join(here, '..', '..', 'contracts');
const env = name => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (bench/peer.py sets it)`);
  return value;
};

const SOAP_11 = 'http://schemas.xmlsoap.org/soap/envelope/';
const NAV_URN = 'urn:microsoft-dynamics-schemas/';
const READABLE = 'http://microsoft-dynamics-schemas/';
//: the NAV pages the compared queries read, as the ERP publishes them
const NAV_PAGES = ['ItemCard', 'SalesPrices', 'SalesLineDiscounts'];
const NAV_READS = new Set(['Read', 'ReadMultiple']);

function soapActions(wsdl) {
  // operation name -> soapAction, from the WSDL's SOAP 1.1 binding
  const actions = {};
  for (const match of wsdl.matchAll(/<operation name="(\w+)">\s*<operation soapAction="([^"]+)"/g)) {
    actions[match[1]] = match[2];
  }
  return actions;
}

async function navPage(page, endpoint) {
  const original = readFileSync(join(contracts, 'erp', `${page}.wsdl`), 'utf8');
  const loader = new SOAPLoader({ fetch });
  await loader.loadWSDL(original.replaceAll(NAV_URN, READABLE));
  const sdl = printSchemaWithDirectives(loader.buildSchema());
  const actions = soapActions(original);
  const moved = [];
  const document = visit(parse(sdl), {
    [Kind.OBJECT_TYPE_DEFINITION]: {
      leave(node) {
        if (node.name.value === 'Query' || node.name.value === 'Mutation') return node;
        const optional = field =>
          field.type.kind === Kind.NON_NULL_TYPE ? { ...field, type: field.type.type } : field;
        return { ...node, fields: node.fields.map(optional) };
      },
    },
    [Kind.NAME](node) {
      // one namespace per page in one subgraph: its types named after the page
      return node.value.startsWith('tns_') ? { ...node, value: `${page}_${node.value.slice(4)}` } : node;
    },
    [Kind.FIELD_DEFINITION]: { leave(node) {
      const soap = node.directives?.find(d => d.name.value === 'soap');
      if (!soap) return node;
      const operation = node.name.value.split('_Port_')[1];
      const args = Object.fromEntries(soap.arguments.map(a => [a.name.value, a.value.value]));
      const annotated = {
        elementName: args.elementName,
        bindingNamespace: args.bindingNamespace.replace(READABLE, NAV_URN),
        endpoint,
        soapNamespace: SOAP_11,
        soapAction: actions[operation],
        subgraph: 'ERP',
      };
      const directive = {
        ...soap,
        arguments: Object.entries(annotated).map(([name, value]) => ({
          kind: Kind.ARGUMENT,
          name: { kind: Kind.NAME, value: name },
          value: { kind: Kind.STRING, value },
        })),
      };
      const field = { ...node, name: { ...node.name, value: `${page}_${operation}` }, directives: [directive] };
      if (NAV_READS.has(operation)) {
        moved.push(field);
        return null;
      }
      return field;
    } },
  });
  return { document, reads: moved };
}

function loadNavSubgraph(name, { url, company }) {
  return () => ({
    name,
    schema$: (async () => {
      const pages = await Promise.all(
        NAV_PAGES.map(page => navPage(page, `${url}/WS/${company}/Page/${page}`)),
      );
      // one subgraph for the ERP: every page's types, its reads on Query, the rest on Mutation
      const definitions = [];
      const directives = new Map();
      const roots = { Query: [], Mutation: [] };
      for (const { document, reads } of pages) {
        roots.Query.push(...reads);
        for (const definition of document.definitions) {
          if (definition.kind === Kind.DIRECTIVE_DEFINITION) {
            directives.set(definition.name.value, definition);
          } else if (definition.kind === Kind.OBJECT_TYPE_DEFINITION && definition.name.value in roots) {
            roots[definition.name.value].push(
              ...definition.fields.filter(f => !/placeholder/.test(f.name.value)),
            );
          } else if (definition.kind !== Kind.SCHEMA_DEFINITION) {
            definitions.push(definition);
          }
        }
      }
      const sdl = [
        `schema @transport(subgraph: "${name}", kind: "soap", location: "${url}") { query: Query mutation: Mutation }`,
        'directive @transport(subgraph: String, kind: String, location: String) repeatable on SCHEMA',
        'directive @soap(elementName: String, bindingNamespace: String, endpoint: String, soapNamespace: String, soapAction: String, subgraph: String) on FIELD_DEFINITION',
        ...[...directives.values()].filter(d => d.name.value !== 'soap').map(print),
        ...definitions.map(print),
        ...Object.entries(roots).map(
          ([root, fields]) => `type ${root} {\n${fields.map(f => '  ' + print(f)).join('\n')}\n}`,
        ),
      ].join('\n\n');
      const { buildASTSchema } = await import('graphql');
      return buildASTSchema(parse(sdl), { assumeValidSDL: true });
    })(),
  });
}

export const composeConfig = defineConfig({
  subgraphs: [
    {
      sourceHandler: loadNavSubgraph('ERP', {
        url: env('PEER_ERP_URL'),
        company: process.env.PEER_ERP_COMPANY || 'CRONUS',
      }),
    },
    {
      sourceHandler: loadOpenAPISubgraph('POS', {
        source: join(contracts, 'pos', 'square.json'),
        endpoint: env('PEER_POS_URL'),
        operationHeaders: {
          Authorization: `Bearer ${env('PEER_POS_TOKEN')}`,
          'Square-Version': env('PEER_SQUARE_VERSION'),
        },
        // Square's reads that are POSTs (a body of filters) are queries
        selectQueryOrMutationField: [
          { type: 'query', fieldName: 'BatchRetrieveInventoryCounts' },
        ],
      }),
      // Square's and the WMS's types share names (Address, Error): each source's own
      transforms: [createPrefixTransform({ value: 'POS_' })],
    },
    {
      sourceHandler: loadOpenAPISubgraph('WMS', {
        source: join(contracts, 'wms', 'openapi.yaml'),
        endpoint: env('PEER_WMS_URL'),
        operationHeaders: { Authorization: `Bearer ${env('PEER_WMS_TOKEN')}` },
        selectQueryOrMutationField: [{ type: 'query', fieldName: 'queryStock' }],
      }),
      transforms: [createPrefixTransform({ value: 'WMS_' })],
    },
  ],
  additionalTypeDefs: readFileSync(join(here, 'products.graphql'), 'utf8'),
});
